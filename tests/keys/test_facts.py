"""The 4 basic facts from the signing certificate's otherNames (jpki-card-and-certs.md §2.3)."""

from __future__ import annotations

import pytest
from cryptography import x509

from keys.errors import Reason, UntrustedCertificate
from keys.testpki import CardMaterial
from keys.testpki.hierarchy import HolderFacts, utf8string
from keys.x509 import facts as jf
from keys.x509.facts import Era, Sex, decode_basic_facts, decode_birth_date
from keys.x509.profile import Purpose

from .conftest import LeafBuilder


def test_round_trip_from_a_test_card(card: CardMaterial) -> None:
    assert card.sign_certificate is not None
    facts = decode_basic_facts(card.sign_certificate)
    expected = HolderFacts()
    assert facts.name == expected.name == "試験\u3000太郎"
    assert facts.birth_date == "1980-04-01"
    assert facts.birth_era is Era.SHOWA
    assert facts.sex is Sex.MALE
    assert facts.address == expected.address
    assert facts.name_substitution == "00000"
    assert not facts.name_has_substitutes
    assert "太郎" not in repr(facts)  # personal data stays out of reprs


@pytest.mark.parametrize(
    ("raw", "era", "iso"),
    [
        ("319800401", Era.SHOWA, "1980-04-01"),
        ("419890108", Era.HEISEI, "1989-01-08"),
        ("520190501", Era.REIWA, "2019-05-01"),
        ("119120729", Era.MEIJI, "1912-07-29"),
        ("220000229", Era.TAISHO, "2000-02-29"),  # the era digit is only a label: the date is Gregorian
        ("019500000", Era.UNKNOWN, "1950"),
        ("319501200", Era.SHOWA, "1950-12"),
    ],
)
def test_birth_dates(raw: str, era: Era, iso: str) -> None:
    assert decode_birth_date(raw) == (era, iso)


@pytest.mark.parametrize(
    "raw",
    ["31980040", "3198004011", "619800401", "3198a0401", "319800230", "319801301", "300000401", "319800012",
     "３19800401", " 19800401"],
)
def test_malformed_birth_dates(raw: str) -> None:
    with pytest.raises(UntrustedCertificate) as exc:
        decode_birth_date(raw)
    assert exc.value.reason is Reason.BAD_FACTS


def test_substitution_flags(build_leaf: LeafBuilder) -> None:
    facts = HolderFacts(name="髙橋\u3000一郎", name_substitution="10000", address_substitution=None)
    leaf = build_leaf(purpose=Purpose.SIGN, facts=facts)
    decoded = decode_basic_facts(leaf)
    assert decoded.name_has_substitutes
    assert not decoded.address_has_substitutes


def _san(*entries: tuple[x509.ObjectIdentifier, bytes]) -> x509.SubjectAlternativeName:
    return x509.SubjectAlternativeName([x509.OtherName(oid, value) for oid, value in entries])


def _entries(**override: bytes | None) -> list[tuple[x509.ObjectIdentifier, bytes]]:
    base = {
        "name": (jf.NAME_OID, utf8string("試験\u3000花子")),
        "birth": (jf.BIRTH_DATE_OID, utf8string("419900101")),
        "sex": (jf.SEX_OID, utf8string("2")),
        "address": (jf.ADDRESS_OID, utf8string("大阪府大阪市")),
        "name_flags": (jf.NAME_SUBSTITUTION_OID, utf8string("00000")),
        "address_flags": (jf.ADDRESS_SUBSTITUTION_OID, utf8string("000000")),
    }
    out = []
    for key, (oid, value) in base.items():
        if key in override:
            if override[key] is None:
                continue
            value = override[key]  # type: ignore[assignment]
        out.append((oid, value))
    return out


@pytest.mark.parametrize(
    ("override", "extra"),
    [
        ({"sex": utf8string("4")}, []),
        ({"sex": utf8string("")}, []),
        ({"name": b"\x13\x02AB"}, []),  # PrintableString, not UTF8String
        ({"name": b"\x0c\x02\xff\xfe"}, []),  # not UTF-8
        ({"name": utf8string("")}, []),
        ({"address": utf8string("あ" * 201), "address_flags": utf8string("0" * 201)}, []),
        ({"name_flags": utf8string("0000")}, []),  # one flag short
        ({"name_flags": utf8string("00002")}, []),
        ({"birth": None}, []),
        ({}, [(jf.SEX_OID, utf8string("1"))]),  # duplicate
        ({}, [(x509.ObjectIdentifier("1.2.392.200149.8.5.5.7"), utf8string("x"))]),  # unknown
    ],
)
def test_malformed_facts(build_leaf: LeafBuilder, override: dict[str, bytes | None],
                         extra: list[tuple[x509.ObjectIdentifier, bytes]]) -> None:
    san = _san(*_entries(**override), *extra)
    leaf = build_leaf(purpose=Purpose.SIGN, replace={san: False})
    with pytest.raises(UntrustedCertificate) as exc:
        decode_basic_facts(leaf)
    assert exc.value.reason is Reason.BAD_FACTS


def test_other_san_types_are_refused(build_leaf: LeafBuilder) -> None:
    san = x509.SubjectAlternativeName([*_san(*_entries()), x509.RFC822Name("a@example.jp")])
    leaf = build_leaf(purpose=Purpose.SIGN, replace={san: False})
    with pytest.raises(UntrustedCertificate, match="unexpected"):
        decode_basic_facts(leaf)


def test_auth_certificate_has_no_facts(card: CardMaterial) -> None:
    with pytest.raises(UntrustedCertificate) as exc:
        decode_basic_facts(card.auth_certificate)
    assert exc.value.reason is Reason.BAD_FACTS


@pytest.mark.parametrize(
    "value",
    [b"\x0c\x05ab", b"\x0c\x81\x03abc", b"\x0c\x83\x00\x00\x01a", b"\x0c", b"\x0c\x01ab"],
    ids=["runs-past", "non-minimal", "three-length-octets", "no-length", "trailing"],
)
def test_bad_utf8string_encodings(value: bytes) -> None:
    # cryptography refuses to build certificates with these values, but a card could carry them.
    with pytest.raises(UntrustedCertificate) as exc:
        jf.utf8string_value(x509.OtherName(jf.NAME_OID, value))
    assert exc.value.reason is Reason.BAD_FACTS
