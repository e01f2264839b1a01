"""keys.cms building blocks: DigestInfo, signed attributes, detached SignedData; the result checked by
``openssl cms -verify`` and pyHanko (independent verifiers)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from asn1crypto import cms, core

from keys.cms.digest_info import (
    HashAlgorithm,
    encode_digest_info,
    hash_algorithm_by_name,
    hash_algorithm_by_oid,
    parse_digest_info,
)
from keys.cms.signed_attributes import Profile, build_signed_attributes, der_set_of, to_be_signed_digest_info
from keys.cms.signed_data import assemble_detached
from keys.errors import MalformedInput, Reason, VerificationError
from keys.signatures import digest_info_sha256
from keys.testpki import CardMaterial
from tests.keys.conftest import NOW
from tests.support.cms import SoftwareCard, openssl_verifies, pyhanko_verdict

DOCUMENT = "契約書 contract v1\n".encode()


# --- DigestInfo ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_digest_info_round_trip(alg: HashAlgorithm) -> None:
    digest = alg.hash(DOCUMENT)
    der = encode_digest_info(alg, digest)
    assert parse_digest_info(der) == (alg, digest)
    assert hash_algorithm_by_oid(alg.oid) is alg
    assert hash_algorithm_by_name(alg.value) is alg
    assert digest == hashlib.new(alg.value, DOCUMENT).digest()


def test_digest_info_is_rfc_8017_note_1() -> None:
    digest = HashAlgorithm.SHA256.hash(DOCUMENT)
    assert encode_digest_info(HashAlgorithm.SHA256, digest) == digest_info_sha256(digest)
    assert encode_digest_info(HashAlgorithm.SHA512, bytes(64)).startswith(
        bytes.fromhex("3051300d060960864801650304020305000440"))


@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_wrong_digest_length_refused(alg: HashAlgorithm) -> None:
    with pytest.raises(MalformedInput):
        encode_digest_info(alg, bytes(alg.digest_size - 1))
    other = next(a for a in HashAlgorithm if a is not alg)
    with pytest.raises(MalformedInput):  # the right OID with a digest of another algorithm's length
        parse_digest_info(_digest_info(alg.oid, bytes(other.digest_size)))


def _digest_info(oid: str, digest: bytes, parameters: bytes = b"\x05\x00") -> bytes:
    oid_der = core.ObjectIdentifier(oid).dump()
    algorithm = b"\x30" + bytes([len(oid_der) + len(parameters)]) + oid_der + parameters
    body = algorithm + b"\x04" + bytes([len(digest)]) + digest
    return b"\x30" + bytes([len(body)]) + body


@pytest.mark.parametrize("oid", ["1.3.14.3.2.26", "1.2.840.113549.2.5", "2.16.840.1.101.3.4.2.4", "1.2.3"])
def test_unknown_hash_algorithm_refused(oid: str) -> None:
    with pytest.raises(VerificationError) as caught:
        parse_digest_info(_digest_info(oid, bytes(32)))
    assert caught.value.reason is Reason.ALGORITHM_NOT_ALLOWED
    with pytest.raises(VerificationError):
        hash_algorithm_by_name("sha1")


def test_non_der_forms_refused() -> None:
    good = encode_digest_info(HashAlgorithm.SHA256, bytes(32))
    absent_parameters = _digest_info(HashAlgorithm.SHA256.oid, bytes(32), parameters=b"")
    long_form_length = b"\x30\x81\x31" + good[2:]
    for bad in (good + b"\x00", absent_parameters, long_form_length, good[:-1], b"", b"\x04\x20" + bytes(32)):
        with pytest.raises(MalformedInput) as caught:
            parse_digest_info(bad)
        assert caught.value.reason is Reason.MALFORMED


# --- signed attributes ---------------------------------------------------------------------------------------------

def test_cades_attributes(signer: SoftwareCard) -> None:
    digest = HashAlgorithm.SHA256.hash(DOCUMENT)
    attrs = build_signed_attributes(HashAlgorithm.SHA256, digest, signer.certificate_der, profile=Profile.CADES_BES,
                                    signing_time=NOW + dt.timedelta(microseconds=999))
    parsed = cms.CMSAttributes.load(attrs, strict=True)
    assert attrs[0] == 0x31  # a DER SET, elements in DER order
    assert parsed.dump(force=True) == attrs
    values = {a["type"].native: a["values"] for a in parsed}
    assert set(values) == {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
    assert values["content_type"][0].native == "data"
    assert values["message_digest"][0].native == digest
    assert values["signing_time"][0].native == NOW
    assert values["signing_time"][0].name == "utc_time"
    (cert_id,) = values["signing_certificate_v2"][0]["certs"]
    assert cert_id["cert_hash"].native == hashlib.sha256(signer.certificate_der).digest()
    assert cert_id["hash_algorithm"].native["algorithm"] == "sha256"  # the DEFAULT, omitted from the DER
    assert bytes.fromhex("060960864801650304020105") not in values["signing_certificate_v2"][0].dump()
    assert cert_id["issuer_serial"]["serial_number"].native == signer.certificate.serial_number


def test_pades_attributes_have_no_signing_time(signer: SoftwareCard) -> None:
    attrs = build_signed_attributes(HashAlgorithm.SHA384, bytes(48), signer.certificate_der, profile=Profile.PADES)
    types = [a["type"].native for a in cms.CMSAttributes.load(attrs)]
    assert sorted(types) == ["content_type", "message_digest", "signing_certificate_v2"]
    with pytest.raises(ValueError, match="signing_time"):
        build_signed_attributes(HashAlgorithm.SHA384, bytes(48), signer.certificate_der, profile=Profile.PADES,
                                signing_time=NOW)
    with pytest.raises(ValueError, match="signing_time"):
        build_signed_attributes(HashAlgorithm.SHA384, bytes(48), signer.certificate_der, profile=Profile.CADES_BES)


def test_attributes_are_deterministic(signer: SoftwareCard) -> None:
    args = (HashAlgorithm.SHA256, bytes(32), signer.certificate_der)
    first = build_signed_attributes(*args, profile=Profile.CADES_BES, signing_time=NOW)
    assert build_signed_attributes(*args, profile=Profile.CADES_BES, signing_time=NOW.astimezone(
        dt.timezone(dt.timedelta(hours=9)))) == first
    later = NOW + dt.timedelta(seconds=1)
    assert build_signed_attributes(*args, profile=Profile.CADES_BES, signing_time=later) != first
    assert to_be_signed_digest_info(HashAlgorithm.SHA256, first) == digest_info_sha256(hashlib.sha256(first).digest())


def test_signing_time_after_2049_is_generalized(signer: SoftwareCard) -> None:
    attrs = build_signed_attributes(HashAlgorithm.SHA256, bytes(32), signer.certificate_der, profile=Profile.CADES_BES,
                                    signing_time=dt.datetime(2050, 1, 1, tzinfo=dt.UTC))
    times = [a["values"][0] for a in cms.CMSAttributes.load(attrs) if a["type"].native == "signing_time"]
    assert times[0].name == "generalized_time"


def test_attribute_inputs_checked(signer: SoftwareCard) -> None:
    with pytest.raises(MalformedInput):
        build_signed_attributes(HashAlgorithm.SHA256, bytes(31), signer.certificate_der, profile=Profile.PADES)
    with pytest.raises(MalformedInput):
        build_signed_attributes(HashAlgorithm.SHA256, bytes(32), signer.certificate_der + b"\x00",
                                profile=Profile.PADES)
    with pytest.raises(ValueError, match="timezone"):
        build_signed_attributes(HashAlgorithm.SHA256, bytes(32), signer.certificate_der, profile=Profile.CADES_BES,
                                signing_time=dt.datetime(2026, 1, 1))


def test_der_set_of_pads_shorter_elements_with_zeros() -> None:
    # X.690 §11.6: compared as octet strings, the shorter padded with zeros at its end
    assert der_set_of([b"\x02\x01\x05", b"\x02\x01\x01", b"\x01\x01\xff"]) == bytes.fromhex("31090101ff020101020105")
    assert der_set_of([b"\x04\x02\x00\x01", b"\x04\x01\x00"]) == bytes.fromhex("3107040100" "04020001")


# --- SignedData, checked by independent verifiers -----------------------------------------------------------------

@pytest.mark.parametrize("alg", list(HashAlgorithm))
def test_openssl_accepts_and_refuses(
    alg: HashAlgorithm, signer: SoftwareCard, card: CardMaterial, tmp_path: Path
) -> None:
    signature = signer.sign_cades(DOCUMENT, NOW, alg)
    root = card.sign_root.certificate
    assert openssl_verifies(tmp_path, DOCUMENT, signature, root)
    assert not openssl_verifies(tmp_path, DOCUMENT + b" ", signature, root)
    assert not openssl_verifies(tmp_path, DOCUMENT, signature, card.auth_root.certificate)


def test_pyhanko_accepts_and_refuses(signer: SoftwareCard, card: CardMaterial, empty_crl: bytes) -> None:
    signature = signer.sign_cades(DOCUMENT, NOW)
    root = card.sign_root.certificate
    assert pyhanko_verdict(DOCUMENT, signature, root, empty_crl, NOW) == (True, True, False)
    intact, _, _ = pyhanko_verdict(DOCUMENT.replace(b"v1", b"v2"), signature, root, empty_crl, NOW)
    assert not intact


def test_assembled_shape(signer: SoftwareCard) -> None:
    alg = HashAlgorithm.SHA256
    attrs = build_signed_attributes(alg, alg.hash(DOCUMENT), signer.certificate_der, profile=Profile.CADES_BES,
                                    signing_time=NOW)
    signature = signer.sign_digest_info(to_be_signed_digest_info(alg, attrs))
    der = assemble_detached(alg, attrs, signature, signer.certificate_der)
    assert assemble_detached(alg, attrs, signature, signer.certificate_der) == der
    info = cms.ContentInfo.load(der, strict=True)
    assert info.dump(force=True) == der
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content"].native is None
    (info_of_signer,) = signed_data["signer_infos"]
    assert info_of_signer["sid"].name == "issuer_and_serial_number"
    assert info_of_signer["signed_attrs"].untag().dump() == attrs
    assert info_of_signer["signature_algorithm"]["algorithm"].native == "sha256_rsa"
    assert info_of_signer["digest_algorithm"].dump() == bytes.fromhex("300b0609608648016503040201")
    assert [c.chosen.dump() for c in signed_data["certificates"]] == [signer.certificate_der]
    with pytest.raises(MalformedInput):
        assemble_detached(alg, attrs + b"\x00", signature, signer.certificate_der)
    with pytest.raises(MalformedInput):
        assemble_detached(alg, attrs, b"", signer.certificate_der)
