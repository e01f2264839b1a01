"""The virtual card's APDU state machine, driven directly (no pcscd): files, access rules, PIN counters
and their persistence, signatures, and the status words OpenSC's probes rely on."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from cardreader.virtual.card import (
    ATR,
    CERTIFICATE_EF_SIZE,
    Fault,
    VirtualCard,
    rsa_pkcs1_sign,
    rsa_pkcs1_sign_textbook,
    token_info,
)
from cardreader.virtual.profile import CardProfile, ProfileError, StateFile, load_profile
from keys.signatures import digest_info_sha256

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PIN

SELECT_AP = "00A4040C0AD392F000260100000001"


def send(card: VirtualCard, apdu: str) -> tuple[bytes, int]:
    raw = card.transmit(bytes.fromhex(apdu.replace(" ", "")))
    return raw[:-2], int.from_bytes(raw[-2:], "big")


def sw(card: VirtualCard, apdu: str) -> int:
    return send(card, apdu)[1]


def select(card: VirtualCard, fid: str) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, "00A4020C02" + fid) == 0x9000


def verify(card: VirtualCard, pin_ef: str, secret: str) -> int:
    select(card, pin_ef)
    data = secret.encode().hex()
    return sw(card, f"00200080{len(secret):02X}{data}")


def test_atr_is_the_one_opensc_lists(card: VirtualCard) -> None:
    assert card.atr == ATR == bytes.fromhex("3BE000FF8131FE4514")


@pytest.mark.parametrize(("apdu", "status"), [
    ("00A4040007A0000000030000", 0x6A82),  # another AID
    ("00A4040C0AD3921000310001010408", 0x6A82),  # the 券面事項入力補助AP: not on this card
    ("00A4020C02000A", 0x6A82),  # an EF before the AP
    ("00A4000C023F00", 0x6A86),  # SELECT MF
    ("00CADF3005", 0x6D00),  # GET DATA (a probe of other drivers)
    ("80CA000000", 0x6D00),
    ("0CB0000004", 0x6E00),  # secure messaging CLA
    ("A0A4000002", 0x6E00),
    ("00B0000004", 0x6986),  # READ BINARY without a current EF
    ("00C0000010", 0x6985),  # GET RESPONSE with nothing pending
    ("00A4", 0x6700),  # not an APDU
])
def test_answers_before_anything_is_selected(card: VirtualCard, apdu: str, status: int) -> None:
    assert sw(card, apdu) == status


def test_unknown_ef_and_unsupported_reads(card: VirtualCard) -> None:
    assert sw(card, SELECT_AP) == 0x9000
    assert sw(card, "00A4020C020009") == 0x6A82
    assert sw(card, "00A4020C0300") == 0x6700
    select(card, "0018")
    assert sw(card, "00B0000004") == 0x6981  # a PIN EF is not transparent
    select(card, "000A")
    assert sw(card, "00B08A0004") == 0x6A81  # no SFI addressing
    assert sw(card, "00B00000") == 0x6700  # no Le


def test_certificate_ef_is_padded_past_the_der(card: VirtualCard, card_profile: CardProfile) -> None:
    der = card_profile.certificate("auth_certificate")
    select(card, "000A")
    data, status = send(card, "00B0000004")
    assert (data, status) == (der[:4], 0x9000)
    content = b""
    while len(content) < CERTIFICATE_EF_SIZE:
        data, status = send(card, f"00B0{len(content):04X}00")
        assert status == 0x9000
        content += data
    assert content[: len(der)] == der
    assert set(content[len(der) :]) == {0xFF}
    assert sw(card, f"00B0{len(content):04X}01") == 0x6B00


def test_short_read_at_the_end_of_a_file(card: VirtualCard) -> None:
    select(card, "0008")
    assert send(card, "00B0000000") == (bytes.fromhex("8F8F00"), 0x9000)
    select(card, "0006")
    data, status = send(card, "00B0000000")
    assert (len(data), status) == (160, 0x9000)
    assert data[:32] == b"JPKIAPICCTOKEN2".ljust(32, b" ")


def test_signing_certificate_needs_the_signing_password(card: VirtualCard, card_profile: CardProfile) -> None:
    select(card, "0001")
    assert sw(card, "00B0000004") == 0x6982
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    select(card, "0001")
    assert sw(card, "00B0000004") == 0x6982  # the auth PIN does not open it
    assert verify(card, "001B", SIGN_PASSWORD) == 0x9000
    select(card, "0001")
    assert send(card, "00B0000004") == (card_profile.certificate("sign_certificate")[:4], 0x9000)
    card.reset()
    select(card, "0001")
    assert sw(card, "00B0000004") == 0x6982  # a reset forgets the verification


def test_auth_pin_counter_down_to_lockout(card: VirtualCard) -> None:
    select(card, "0018")
    assert sw(card, "00200080") == 0x63C3
    assert verify(card, "0018", WRONG_PIN) == 0x63C2
    assert verify(card, "0018", WRONG_PIN) == 0x63C1
    assert verify(card, "0018", AUTH_PIN) == 0x9000  # a correct PIN restores the counter
    assert sw(card, "00200080") == 0x9000  # verified
    assert verify(card, "0018", WRONG_PIN) == 0x63C2
    assert verify(card, "0018", WRONG_PIN) == 0x63C1
    assert verify(card, "0018", WRONG_PIN) == 0x63C0  # the attempt that blocks
    assert verify(card, "0018", AUTH_PIN) == 0x6984  # blocked, even for the right PIN
    assert sw(card, "00200080") == 0x63C0  # OpenSC's init needs SW1 = 63
    assert card.counters[0x0018] == 0


def test_signing_password_has_five_tries(card: VirtualCard) -> None:
    statuses = [verify(card, "001B", "WRONG0") for _ in range(6)]
    assert statuses == [0x63C4, 0x63C3, 0x63C2, 0x63C1, 0x63C0, 0x6984]
    assert card.counters[0x0018] == 3


def test_verify_parameters(card: VirtualCard) -> None:
    select(card, "000A")
    assert sw(card, "00200080") == 0x6A88  # not a PIN EF
    select(card, "0018")
    assert sw(card, "00200081") == 0x6A86
    assert sw(card, "00200180") == 0x6A86


def test_counters_persist_across_emulator_restarts(fresh_profile: CardProfile) -> None:
    card = fresh_profile.card()
    for expected in (0x63C2, 0x63C1, 0x63C0):
        assert verify(card, "0018", WRONG_PIN) == expected
    assert StateFile(fresh_profile.state_path).load() == {0x0018: 0, 0x001B: 5}
    restarted = load_profile(fresh_profile.path).card()
    assert verify(restarted, "0018", AUTH_PIN) == 0x6984
    assert restarted.counters[0x0018] == 0
    fresh_profile.reset_counters()
    assert verify(fresh_profile.card(), "0018", AUTH_PIN) == 0x9000


def test_a_damaged_state_file_is_an_error(fresh_profile: CardProfile) -> None:
    fresh_profile.state_path.write_text("[1, 2]")
    with pytest.raises(ProfileError, match="counter"):
        fresh_profile.card()


@pytest.mark.parametrize(("key_ef", "pin_ef", "secret", "cert_role"), [
    ("0017", "0018", AUTH_PIN, "auth_certificate"),
    ("001A", "001B", SIGN_PASSWORD, "sign_certificate"),
])
def test_signatures_verify_with_the_certificate(
    card: VirtualCard, card_profile: CardProfile, key_ef: str, pin_ef: str, secret: str, cert_role: str
) -> None:
    message = b"challenge"
    digest_info = digest_info_sha256(hashlib.sha256(message).digest())
    select(card, key_ef)
    assert sw(card, f"802A0080{len(digest_info):02X}{digest_info.hex()}00") == 0x6982  # PIN first
    assert verify(card, pin_ef, secret) == 0x9000
    select(card, key_ef)
    signature, status = send(card, f"802A0080{len(digest_info):02X}{digest_info.hex()}00")
    assert (status, len(signature)) == (0x9000, 256)
    public_key = x509.load_der_x509_certificate(card_profile.certificate(cert_role)).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def test_signature_command_checks(card: VirtualCard) -> None:
    assert verify(card, "0018", AUTH_PIN) == 0x9000
    assert sw(card, "802A008003010203") == 0x6985  # the PIN EF is current, not a key
    select(card, "0017")
    assert sw(card, "802A018003010203") == 0x6A86
    assert sw(card, "802A008103010203") == 0x6A86
    assert sw(card, f"802A0080F6{'00' * 246}") == 0x6700  # more than k - 11


def test_prehashed_and_textbook_signatures_agree(card_profile: CardProfile) -> None:
    key = card_profile.content().keys[0x0017][0]
    for payload in (digest_info_sha256(bytes(range(32))), b"\x30\x31", bytes(245)):
        assert rsa_pkcs1_sign(key, payload) == rsa_pkcs1_sign_textbook(key, payload)


def test_token_info_is_a_160_byte_token_info() -> None:
    info = token_info("JPKIAPGPSETOKEN")
    assert len(info) == 160
    assert info[:32] == b"JPKIAPGPSETOKEN".ljust(32, b" ")
    assert int.from_bytes(info[116:120], "big") == 16  # ulMaxPinLen


def test_card_without_signing_pair(minor_profile: CardProfile) -> None:
    card = minor_profile.card()
    select(card, "0008")
    assert send(card, "00B0000003") == (bytes.fromhex("008F00"), 0x9000)
    for fid in ("0001", "001A", "001B"):
        assert sw(card, "00A4020C02" + fid) == 0x6A82
    select(card, "0002")  # the signing CA is still there
    assert minor_profile.sign_password is None
    assert not minor_profile.has_sign


def test_faults(card_profile: CardProfile) -> None:
    short = VirtualCard(card_profile.content(), fault=Fault.SHORT_DATA)
    select(short, "0008")
    assert send(short, "00B0000003") == (b"\x8f", 0x9000)
    garbage = VirtualCard(card_profile.content(), fault=Fault.GARBAGE_SW)
    select(garbage, "0008")
    assert garbage.transmit(bytes.fromhex("00B0000003")) == bytes.fromhex("8F8F00") + bytes.fromhex("1234")
    bad = VirtualCard(card_profile.content(Fault.BAD_DER_LENGTH), fault=Fault.BAD_DER_LENGTH)
    select(bad, "000A")
    assert send(bad, "00B0000004") == (bytes.fromhex("30827FF0"), 0x9000)


def test_profile_loading_errors(tmp_path: pytest.TempPathFactory, card_profile: CardProfile) -> None:
    missing = card_profile.path.parent / "nope.json"
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(missing)
    other = card_profile.path.parent / "other.json"
    other.write_text('{"format": 99}')
    with pytest.raises(ProfileError, match="not a card profile"):
        load_profile(other)
    other.write_text('{"format": 1, "files": {}}')
    with pytest.raises(ProfileError, match="missing"):
        load_profile(other)
    assert repr(card_profile).count(AUTH_PIN) == 0
