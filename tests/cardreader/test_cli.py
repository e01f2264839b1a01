"""``python -m cardreader`` as a user runs it: a separate process, PINs through ``--pin-fd``, human and JSON
output, and the documented exit codes (0 ok, 1 card/reader error, 2 usage, 3 PIN refused)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader.pcsc import TEST_MODE_ENV
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, load_profile
from keys.jose.b64 import b64url_decode_loose as _b64url
from keys.signatures import verify_card_signature

from .conftest import AUTH_PIN, SIGN_PASSWORD, WRONG_PIN, Slot

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None, pin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI; ``pin`` is written to a pipe handed over as ``--pin-fd``."""
    fds: tuple[int, ...] = ()
    if pin is not None:
        read, write = os.pipe()
        os.write(write, pin.encode() + b"\n")
        os.close(write)
        args += ("--pin-fd", str(read))
        fds = (read,)
    try:
        return subprocess.run([sys.executable, "-m", "cardreader", *args], env=env, capture_output=True, text=True,
                              timeout=60, pass_fds=fds, cwd=ROOT, check=False)
    finally:
        for fd in fds:
            os.close(fd)


@pytest.mark.pcsc
def test_readers(reader: Slot, lab: PcscLab) -> None:
    result = cli("readers", "--json", env=lab.env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["readers"]
    assert {"name": "Virtual PCD 00 00", "virtual": True, "allowed": True} in rows


@pytest.mark.pcsc
def test_info(reader: Slot, lab: PcscLab) -> None:
    result = cli("info", env=lab.env)
    assert result.returncode == 0, result.stderr
    assert "token:            card (JPKIAPICCTOKEN2)" in result.stdout
    assert "auth PIN:         3 tries left" in result.stdout
    data = json.loads(cli("info", "--json", env=lab.env).stdout)
    assert (data["token_type"], data["auth_pin"]["tries_left"], data["sign_pin"]["tries_left"]) == ("card", 3, 5)


@pytest.mark.pcsc
def test_read_cert(reader: Slot, lab: PcscLab, card_profile: CardProfile, tmp_path: Path) -> None:
    out = tmp_path / "auth.der"
    result = cli("read-cert", "auth", "--out", str(out), env=lab.env)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == card_profile.certificate("auth_certificate")
    pem = cli("read-cert", "auth-ca", env=lab.env).stdout
    assert x509.load_pem_x509_certificate(pem.encode()) == x509.load_der_x509_certificate(
        card_profile.certificate("auth_ca"))
    signing = cli("read-cert", "sign", "--json", env=lab.env, pin=SIGN_PASSWORD.lower())
    assert signing.returncode == 0, signing.stderr
    data = json.loads(signing.stdout)
    assert base64.b64decode(data["certificate"]) == card_profile.certificate("sign_certificate")
    assert "L=Tokyo-to" in data["subject"]


@pytest.mark.pcsc
def test_sign(reader: Slot, lab: PcscLab, card_profile: CardProfile, tmp_path: Path) -> None:
    message = tmp_path / "challenge.bin"
    message.write_bytes(b"challenge from the relying party")
    signature_file = tmp_path / "signature.bin"
    result = cli("sign", "--key", "auth", "--data-file", str(message), "--out", str(signature_file), "--json",
                 env=lab.env, pin=AUTH_PIN)
    assert result.returncode == 0, result.stderr
    evidence = json.loads(result.stdout)
    signature = _b64url(evidence["signature"])
    assert signature == signature_file.read_bytes()
    assert _b64url(evidence["certificate"]) == card_profile.certificate("auth_certificate")
    key = x509.load_der_x509_certificate(_b64url(evidence["certificate"])).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    verify_card_signature(key, signature, message.read_bytes())
    human = cli("sign", "--key", "auth", "--data-file", str(message), env=lab.env, pin=AUTH_PIN)
    assert human.stdout.startswith("signed with the auth key (256 bytes):")


@pytest.mark.pcsc
def test_pin_errors_exit_3(slot: Slot, lab: PcscLab, fresh_profile: CardProfile, tmp_path: Path) -> None:
    slot.use(fresh_profile)
    message = tmp_path / "m.bin"
    message.write_bytes(b"m")
    sign = ("sign", "--key", "auth", "--data-file", str(message), "--json")
    wrong = cli(*sign, env=lab.env, pin=WRONG_PIN)
    assert wrong.returncode == 3
    assert json.loads(wrong.stdout)["error"] == {
        "reason": "pin_incorrect", "message": "The PIN is incorrect. 2 tries left.",
        "message_ja": "暗証番号が違います。残り2回です。", "sw": "63C2", "tries_left": 2,
    }
    malformed = cli(*sign, env=lab.env, pin="12345")
    assert (malformed.returncode, json.loads(malformed.stdout)["error"]["reason"]) == (3, "pin_format")
    assert cli(*sign, env=lab.env, pin=WRONG_PIN).returncode == 3  # 1 try left now
    last = cli(*sign[:-1], env=lab.env, pin=AUTH_PIN)
    assert last.returncode == 3
    assert "[last_try_needs_confirmation]" in last.stderr
    confirmed = cli(*sign, "--confirm-last-try", env=lab.env, pin=AUTH_PIN)
    assert confirmed.returncode == 0, confirmed.stdout


@pytest.mark.pcsc
def test_virtual_reader_refused_outside_test_mode(reader: Slot, lab: PcscLab) -> None:
    env = {k: v for k, v in lab.env.items() if k != TEST_MODE_ENV}
    refused = cli("info", env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error [reader_refused]: This card reader is not allowed.")
    assert "Traceback" not in refused.stderr
    assert cli("info", "--test-mode", env=env).returncode == 0


def test_usage_errors(tmp_path: Path) -> None:
    assert cli("sign", "--key", "auth").returncode == 2
    assert cli("read-cert", "mynumber").returncode == 2
    missing = cli("sign", "--key", "auth", "--data-file", str(tmp_path / "absent.bin"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    broken = cli("virtual-card", "--profile", str(tmp_path / "absent.json"), "--no-reconnect")
    assert (broken.returncode, "cannot read profile" in broken.stderr) == (2, True)


def test_make_profile(tmp_path: Path, card_profile: CardProfile) -> None:
    target = tmp_path / "kid.json"
    result = cli("make-profile", str(target), "--pki", str(card_profile.path.parent / "pki"), "--no-sign",
                 "--auth-pin", "0000", "--token-label", "JPKIAPGPSETOKEN")
    assert result.returncode == 0, result.stderr
    profile = load_profile(target)
    assert (profile.has_sign, profile.auth_pin, profile.token_label) == (False, "0000", "JPKIAPGPSETOKEN")
    bad = cli("make-profile", str(tmp_path / "bad.json"), "--auth-pin", "12")
    assert (bad.returncode, "4 digits" in bad.stderr) == (2, True)
