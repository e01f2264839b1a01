"""OpenSC: our virtual card checked by OpenSC's own JPKI driver (card-jpki.c, pkcs15-jpki.c), and OpenSC's
signature checked against the certificate *our* reader read.

Usage: ``python -m conformance opensc [--verbose] [--keep DIR]``. It starts a private pcscd (own socket,
own vpcd port; :class:`cardreader.virtual.lab.PcscLab`) and a virtual card issued from a fresh test PKI,
then runs, in order:

1. ``opensc-tool -a`` shows the JPKI ATR ``3b:e0:00:ff:81:31:fe:45:14``;
2. ``opensc-tool -n`` names the card ``jpki``;
3. ``pkcs15-tool --list-certificates`` lists the 4 certificates (paths 000a, 0001, 000b, 0002);
4. ``pkcs15-tool --list-pins`` shows both PINs, tries left 3 (auth) and 5 (signing);
5. ``pkcs15-tool --read-certificate 01`` gives the same certificate our reader reads from EF 000A;
6. ``pkcs11-tool --login`` with a wrong PIN fails and our reader then sees 2 tries left (one counter,
   two implementations);
7. ``pkcs11-tool --login --pin <auth PIN> --id 01 --sign -m SHA256-RSA-PKCS`` makes a signature that
   :func:`keys.signatures.verify_card_signature` accepts with the certificate our reader read, and our
   reader then sees the counter back at 3.

Then the smartphone tokens (スマホ用電子証明書; cardreader.jpki.TokenType), from the same test PKI — OpenSC
does not know them apart from the card and still reads what the token lets it read:

8. Android (``JPKIAPGPSETOKEN``): ``pkcs15-tool --list-certificates`` lists the 4 certificates, but
   ``--read-certificate 01`` fails (the token guards EF 000A until the PIN is verified);
9. Android: ``pkcs15-tool --read-certificate 03`` gives the authentication CA our reader reads from EF 000B;
10. Android: ``pkcs11-tool --login --sign`` makes a signature that verifies with the certificate our reader
    read after the PIN; the counter is back at 3;
11. iPhone (``JPKIAPIOSTOKEN``, the card's rules assumed): ``pkcs15-tool --read-certificate 01`` gives the
    certificate our reader reads from EF 000A.

Prints ``PASS``/``FAIL`` per check, then the closing line ``opensc: N passed, M failed``; exits 1 when a
check fails (or the tools are missing).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader import pcsc, session
from cardreader.errors import CardError
from cardreader.jpki import CertificateKind, Key
from cardreader.pin import Pin
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import ANDROID_TOKEN_LABEL, DEFAULT_TOKEN_LABEL, IOS_TOKEN_LABEL, create_profile
from keys.errors import VerificationError
from keys.signatures import verify_card_signature

PKCS11_MODULE = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
TOOLS = ("opensc-tool", "pkcs15-tool", "pkcs11-tool", "pcscd")
JPKI_ATR = "3b:e0:00:ff:81:31:fe:45:14"
AUTH_PIN, SIGN_PASSWORD, WRONG_PIN = "4826", "OPENSC2024", "9999"
_TOOL_TIMEOUT = 30.0


@dataclass(frozen=True)
class Check:
    """One check's outcome."""

    name: str
    passed: bool
    detail: str = ""


class _Failed(Exception):
    """A check failed; the message says why."""


class Runner:
    """Runs the checks against one lab and card."""

    def __init__(self, lab: PcscLab, workdir: Path, verbose: bool, *, guarded: bool = False) -> None:
        self.lab = lab
        self.workdir = workdir
        self.verbose = verbose
        #: The token guards EF 000A until the authentication PIN is verified (the Android token).
        self.guarded = guarded

    def tool(self, *argv: str, expect_ok: bool = True) -> str:
        """Run an OpenSC tool against the lab; return stdout (raise :class:`_Failed` on an unexpected exit)."""
        result = subprocess.run(argv, env=self.lab.env, capture_output=True, text=True, timeout=_TOOL_TIMEOUT,
                                check=False)
        if self.verbose:
            print(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}", file=sys.stderr)
        if (result.returncode == 0) != expect_ok:
            raise _Failed(f"{argv[0]} exited {result.returncode}: {(result.stderr or result.stdout).strip()[-200:]}")
        return result.stdout

    def our_certificate(self) -> bytes:
        pin = Pin(Key.AUTH, AUTH_PIN) if self.guarded else None
        with pcsc.open_card(test_mode=True) as card:
            return session.read_certificate(card, CertificateKind.AUTH, pin=pin)

    def our_auth_tries(self) -> int | None:
        with pcsc.open_card(test_mode=True) as card:
            return session.read_info(card).auth_pin.tries_left

    # -- checks --------------------------------------------------------------------------------------

    def atr(self) -> str:
        out = self.tool("opensc-tool", "-a").strip().splitlines()[0]
        if out != JPKI_ATR:
            raise _Failed(f"ATR {out}")
        return out

    def card_name(self) -> str:
        name = self.tool("opensc-tool", "-n").strip().splitlines()[0]
        if name != "jpki":
            raise _Failed(f"OpenSC names the card {name!r}")
        return name

    def certificates(self) -> str:
        out = self.tool("pkcs15-tool", "--list-certificates")
        paths = re.findall(r"^\s*Path\s*:\s*(\S+)", out, re.MULTILINE)
        if out.count("X.509 Certificate [") != 4 or sorted(paths) != ["0001", "0002", "000a", "000b"]:
            raise _Failed(f"certificates at {paths}")
        return f"4 certificates at {', '.join(paths)}"

    def pins(self) -> str:
        out = self.tool("pkcs15-tool", "--list-pins")
        tries = [int(t) for t in re.findall(r"Tries left\s*:\s*(\d+)", out)]
        names = re.findall(r"^PIN \[(.+)\]", out, re.MULTILINE)
        if tries != [3, 5] or len(names) != 2:
            raise _Failed(f"PINs {names} with tries {tries}")
        return f"{names[0]}: 3, {names[1]}: 5"

    def guarded_certificate(self) -> str:
        listed = self.certificates()
        self.tool("pkcs15-tool", "--read-certificate", "01", expect_ok=False)
        return f"{listed}; 000a refused without the PIN"

    def read_ca(self) -> str:
        pem = self.tool("pkcs15-tool", "--read-certificate", "03").encode("ascii")
        theirs = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN") :])
        with pcsc.open_card(test_mode=True) as card:
            ours = session.read_certificate(card, CertificateKind.AUTH_CA)
        if theirs != x509.load_der_x509_certificate(ours):
            raise _Failed("OpenSC and our reader read different CA certificates")
        return f"same CA certificate ({theirs.subject.rfc4514_string()})"

    def read_certificate(self) -> str:
        pem = self.tool("pkcs15-tool", "--read-certificate", "01").encode("ascii")
        theirs = x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN") :])
        if theirs != x509.load_der_x509_certificate(self.our_certificate()):
            raise _Failed("OpenSC and our reader read different certificates")
        return f"same certificate ({theirs.subject.rfc4514_string()})"

    def wrong_pin(self) -> str:
        self.tool("pkcs11-tool", "--module", str(PKCS11_MODULE), "--slot-index", "0", "--login",
                  "--pin", WRONG_PIN, "--list-objects", expect_ok=False)
        tries = self.our_auth_tries()
        if tries != 2:
            raise _Failed(f"our reader sees {tries} tries after OpenSC's wrong PIN, expected 2")
        return "refused; our reader sees 2 tries left"

    def signature(self) -> str:
        message = self.workdir / "message.bin"
        message.write_bytes(b"conformance opensc: a challenge signed through pkcs11-tool")
        signature = self.workdir / "signature.bin"
        self.tool("pkcs11-tool", "--module", str(PKCS11_MODULE), "--slot-index", "0", "--login",
                  "--pin", AUTH_PIN, "--id", "01", "--sign", "-m", "SHA256-RSA-PKCS",
                  "-i", str(message), "-o", str(signature))
        public_key = x509.load_der_x509_certificate(self.our_certificate()).public_key()
        assert isinstance(public_key, rsa.RSAPublicKey)
        try:
            verify_card_signature(public_key, signature.read_bytes(), message.read_bytes())
        except VerificationError as exc:
            raise _Failed(f"OpenSC's signature does not verify: {exc}") from None
        tries = self.our_auth_tries()
        if tries != 3:
            raise _Failed(f"signature verifies, but our reader sees {tries} tries left, expected 3")
        return f"{len(signature.read_bytes())}-byte signature verifies with keys.signatures; tries back at 3"

    def checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("opensc-tool -a: JPKI ATR", self.atr),
            ("opensc-tool -n: card is jpki", self.card_name),
            ("pkcs15-tool --list-certificates: 4 certificates", self.certificates),
            ("pkcs15-tool --list-pins: tries 3 and 5", self.pins),
            ("pkcs15-tool --read-certificate 01 = our reader's EF 000A", self.read_certificate),
            ("pkcs11-tool wrong PIN: one counter for both implementations", self.wrong_pin),
            ("pkcs11-tool --sign SHA256-RSA-PKCS verifies against our certificate", self.signature),
        ]

    def android_checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [
            ("android token: 4 certificates listed, 000a guarded", self.guarded_certificate),
            ("android token: pkcs15-tool --read-certificate 03 = our reader's EF 000B", self.read_ca),
            ("android token: pkcs11-tool --sign verifies against our certificate read after the PIN", self.signature),
        ]

    def iphone_checks(self) -> list[tuple[str, Callable[[], str]]]:
        return [("iphone token: pkcs15-tool --read-certificate 01 = our reader's EF 000A", self.read_certificate)]


def run(workdir: Path, *, verbose: bool = False) -> list[Check]:
    """Start the lab and the card (then each smartphone token) under ``workdir`` and run every check."""
    results: list[Check] = []
    with PcscLab(workdir / "lab") as lab:
        for token, label in (("card", DEFAULT_TOKEN_LABEL), ("android", ANDROID_TOKEN_LABEL),
                             ("iphone", IOS_TOKEN_LABEL)):
            profile = create_profile(workdir / f"{token}.json", pki_dir=workdir / "pki", now=dt.datetime.now(dt.UTC),
                                     auth_pin=AUTH_PIN, sign_password=SIGN_PASSWORD, token_label=label)
            lab.insert(profile.path, apdu_log=workdir / f"apdu-{token}.log")
            runner = Runner(lab, workdir, verbose, guarded=token == "android")
            checks = {"card": runner.checks, "android": runner.android_checks, "iphone": runner.iphone_checks}[token]
            for name, check in checks():
                try:
                    results.append(Check(name, True, check()))
                except (_Failed, CardError, subprocess.TimeoutExpired, ValueError) as exc:
                    results.append(Check(name, False, str(exc)))
    return results


def main(argv: Sequence[str]) -> int:
    """Entry point of ``python -m conformance opensc``."""
    parser = argparse.ArgumentParser(prog="python -m conformance opensc", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="show every tool's output")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (logs, APDU trace)")
    args = parser.parse_args(list(argv))
    missing = [t for t in TOOLS if shutil.which(t) is None] + ([] if PKCS11_MODULE.exists() else [str(PKCS11_MODULE)])
    if missing:
        print(f"FAIL tools: missing {', '.join(missing)} (apt-get install pcscd vsmartcard-vpcd opensc)")
        print("opensc: 0 passed, 1 failed")
        return 1
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = run(args.keep.resolve(), verbose=args.verbose)
    else:
        with tempfile.TemporaryDirectory(prefix="opensc-") as tmp:
            results = run(Path(tmp), verbose=args.verbose)
    for check in results:
        print(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    failed = sum(not c.passed for c in results)
    print(f"opensc: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


__all__ = ["Check", "main", "run"]
