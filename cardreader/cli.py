"""``python -m cardreader``: the JPKI card from the command line, and the virtual card.

Commands::

    readers                                  list PC/SC readers (virtual ones marked)
    info                                     token type, certificates present, tries left of both PINs
    read-cert auth|sign|auth-ca|sign-ca      print a certificate (PEM; --out FILE writes DER)
    sign --key auth|sign --data-file F       sign SHA-256(F) on the card (--out FILE writes the signature)
    virtual-card [--port N] [--profile F]    run the virtual card against pcscd's vpcd driver
    make-profile FILE                        issue a virtual card from the test PKI and write its profile
    agent --provider URL [--kiosk]           serve the provider's login page on loopback (cardreader.agent)
    login --code CODE --provider URL         complete a login shown on another device (cardreader.agent)

PINs are prompted without echo, or read from a file descriptor with ``--pin-fd N`` (one line) for
automation; they are never echoed, logged or accepted as an argument. Output is for people by default,
one JSON object with ``--json``. Readers named "Virtual PCD" need ``--test-mode`` (or
``MYNACARD_TEST_MODE=1``).

Exit codes: 0 success; 1 card or reader error (the message says which); 2 usage error; 3 PIN refused
(incorrect, blocked, wrong format, or one try left without ``--confirm-last-try``).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardreader import session
from cardreader.agent import cli as agent_cli
from cardreader.errors import (
    CardError,
    LastTryNeedsConfirmation,
    PinBlocked,
    PinFormatError,
    PinIncorrect,
)
from cardreader.jpki import CertificateKind, Key, PinStatus
from cardreader.pcsc import Access, in_test_mode, is_virtual_reader, list_readers, open_card
from cardreader.pin import Pin

EXIT_OK, EXIT_CARD, EXIT_USAGE, EXIT_PIN = 0, 1, 2, 3
_PIN_ERRORS = (PinIncorrect, PinBlocked, PinFormatError, LastTryNeedsConfirmation)
DEFAULT_PROFILE = Path("var/card/card.json")
DEFAULT_PKI = Path("var/pki")
_PIN_FD_LIMIT = 64


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--reader", help="reader name (exact, or a unique part of it)")
    common.add_argument("--test-mode", action="store_true", default=None, help="allow virtual readers")
    common.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a busy reader (default 0)")
    common.add_argument("--transaction", action="store_true",
                        help="share the reader and hold a PC/SC transaction instead of exclusive access")
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument("-v", "--verbose", action="store_true", help="APDU trace on stderr (PINs masked)")
    pin = argparse.ArgumentParser(add_help=False)
    pin.add_argument("--pin-fd", type=int, help="read the PIN from this file descriptor (one line)")
    pin.add_argument("--confirm-last-try", action="store_true", help="send the PIN even with one try left")

    parser = argparse.ArgumentParser(prog="python -m cardreader", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("readers", parents=[common], help="list readers")
    sub.add_parser("info", parents=[common], help="token type, certificates, tries left")
    read = sub.add_parser("read-cert", parents=[common, pin], help="read a certificate")
    read.add_argument("kind", choices=[k.value for k in CertificateKind])
    read.add_argument("--out", type=Path, help="write DER to this file")
    sign = sub.add_parser("sign", parents=[common, pin], help="sign SHA-256 of a file with a card key")
    sign.add_argument("--key", choices=[k.value for k in Key], required=True)
    sign.add_argument("--data-file", type=Path, required=True)
    sign.add_argument("--out", type=Path, help="write the raw signature to this file")

    card = sub.add_parser("virtual-card", help="run the virtual card (test/demo only)")
    card.add_argument("--profile", type=Path, default=DEFAULT_PROFILE,
                      help=f"card profile (created with the test PKI in {DEFAULT_PKI} if missing)")
    card.add_argument("--host", default="127.0.0.1", help="where pcscd's vpcd driver listens")
    card.add_argument("--port", type=int, default=35963, help="vpcd port (35963 = slot 0 of the packaged conf)")
    card.add_argument("--fault", choices=_fault_names(), help="deliberately broken behaviour (tests)")
    card.add_argument("--apdu-log", type=Path, help="append the APDU trace (PINs masked) to this file")
    card.add_argument("--no-reconnect", action="store_true", help="exit when pcscd goes away")
    card.add_argument("--reset-counters", action="store_true", help="unblock: reset the PIN retry counters")
    card.add_argument("-v", "--verbose", action="store_true", help="log insertion and APDUs (PINs masked)")

    make = sub.add_parser("make-profile", help="issue a virtual card and write its profile")
    make.add_argument("profile", type=Path)
    make.add_argument("--pki", type=Path, default=DEFAULT_PKI, help="test PKI directory (created if missing)")
    make.add_argument("--generation", type=int, choices=(1, 2, 3), default=3)
    make.add_argument("--no-sign", action="store_true", help="no signing pair (a holder under 15)")
    make.add_argument("--auth-pin", help="4 digits (default 1234)")
    make.add_argument("--sign-password", help="6-16 letters and digits (default ABC123)")
    make.add_argument("--token-label", help="EF 0006 label (default JPKIAPICCTOKEN2; smartphone tokens: "
                      "JPKIAPGPSETOKEN Android, JPKIAPIOSTOKEN iPhone)")
    agent_cli.add_commands(sub, common)
    return parser


def _fault_names() -> list[str]:
    from cardreader.virtual.card import Fault

    return [f.value for f in Fault]


# --- card commands ----------------------------------------------------------------------------------


def _session_options(args: argparse.Namespace) -> dict[str, Any]:
    access = Access.TRANSACTION if args.transaction else Access.EXCLUSIVE
    return {"test_mode": args.test_mode, "access": access, "wait": args.wait}


def cmd_readers(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    test_mode = in_test_mode(args.test_mode)
    rows = [{"name": r, "virtual": is_virtual_reader(r), "allowed": test_mode or not is_virtual_reader(r)}
            for r in list_readers()]
    lines = [f"{r['name']}{'' if r['allowed'] else '  (virtual: refused outside test mode)'}" for r in rows]
    return {"readers": rows}, "\n".join(lines) or "no reader connected"


def cmd_info(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    with open_card(args.reader, **_session_options(args)) as card:
        info = session.read_info(card)
    text = [
        f"reader:           {card.reader}",
        f"token:            {info.token.type.value} ({info.token.label})",
        f"certificates:     auth {_yes(info.certificates.auth)}, sign {_yes(info.certificates.sign)}",
        f"auth PIN:         {_tries(info.auth_pin)}",
        f"signing password: {_tries(info.sign_pin) if info.sign_pin else 'none (no signing certificate)'}",
    ]
    return {"reader": card.reader, **info.as_dict()}, "\n".join(text)


def cmd_read_cert(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    kind = CertificateKind(args.kind)
    with open_card(args.reader, **_session_options(args)) as card:
        required = session.pin_needed_to_read(card, kind)
    pin = _ask_pin(args, required) if required else None
    with open_card(args.reader, **_session_options(args)) as card:
        der = session.read_certificate(card, kind, pin=pin, confirm_last_try=args.confirm_last_try)
    if args.out:
        args.out.write_bytes(der)
    cert = x509.load_der_x509_certificate(der)
    result = {
        "kind": kind.value,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial": f"{cert.serial_number:X}",
        "not_after": cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        "sha256": hashlib.sha256(der).hexdigest(),
        "certificate": base64.b64encode(der).decode("ascii"),
    }
    text = f"wrote {args.out} ({len(der)} bytes)" if args.out else cert.public_bytes(
        serialization.Encoding.PEM).decode("ascii").rstrip()
    return result, text


def cmd_sign(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    key = Key(args.key)
    try:
        message = args.data_file.read_bytes()
    except OSError as exc:
        raise _UsageError(f"cannot read {args.data_file}: {exc.strerror}") from None
    pin = _ask_pin(args, key)
    with open_card(args.reader, **_session_options(args)) as card:
        evidence = session.sign(card, key, message, pin, confirm_last_try=args.confirm_last_try)
    if args.out:
        args.out.write_bytes(evidence.signature)
    signature = base64.b64encode(evidence.signature).decode("ascii")
    text = f"signed with the {key.value} key ({len(evidence.signature)} bytes)" + (
        f", wrote {args.out}" if args.out else f":\n{signature}")
    return evidence.as_dict(), text


def _ask_pin(args: argparse.Namespace, key: Key) -> Pin:
    """Check the tries before asking, so nobody types a PIN that would not be sent; then read it."""
    with open_card(args.reader, **_session_options(args)) as card:
        status = session.JpkiSession(card).pin_status(key)
    if status.blocked:
        raise PinBlocked("no try left")
    if status.tries_left == 1 and not args.confirm_last_try:
        raise LastTryNeedsConfirmation()
    if args.pin_fd is not None:
        return Pin(key, _read_fd(args.pin_fd))
    label = "auth PIN (4 digits)" if key is Key.AUTH else "signing password (6-16 letters/digits)"
    return Pin(key, getpass.getpass(f"{label}: "))


def _read_fd(fd: int) -> bytearray:
    buffer = bytearray()
    try:
        while len(buffer) <= _PIN_FD_LIMIT:
            chunk = os.read(fd, 1)
            if not chunk or chunk in (b"\n", b"\r"):
                break
            buffer += chunk
    except OSError as exc:
        raise _UsageError(f"cannot read --pin-fd {fd}: {exc.strerror}") from None
    if len(buffer) > _PIN_FD_LIMIT:
        buffer[:] = bytes(len(buffer))
        raise PinFormatError(signing=True)
    return buffer


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _tries(status: PinStatus) -> str:
    if status.verified:
        return "verified in this session"
    return "BLOCKED" if status.blocked else f"{status.tries_left} tries left"


# --- virtual card -----------------------------------------------------------------------------------


def cmd_virtual_card(args: argparse.Namespace) -> int:
    from cardreader.virtual.card import Fault
    from cardreader.virtual.profile import create_profile, load_profile
    from cardreader.virtual.vpcd import VpcdLink

    if not args.profile.exists() and args.profile == DEFAULT_PROFILE:
        create_profile(args.profile, pki_dir=DEFAULT_PKI, now=dt.datetime.now(dt.UTC))
    profile = load_profile(args.profile)
    if args.reset_counters:
        profile.reset_counters()
    card = profile.card(Fault(args.fault) if args.fault else None)
    apdu_log = args.apdu_log.open("a", encoding="utf-8") if args.apdu_log else None
    try:
        VpcdLink(card, host=args.host, port=args.port, reconnect=not args.no_reconnect, apdu_log=apdu_log).run()
    except KeyboardInterrupt:
        pass
    finally:
        if apdu_log is not None:
            apdu_log.close()
    return EXIT_OK


def cmd_make_profile(args: argparse.Namespace) -> int:
    from cardreader.virtual.profile import DEFAULT_AUTH_PIN, DEFAULT_SIGN_PASSWORD, DEFAULT_TOKEN_LABEL, create_profile

    auth_pin = args.auth_pin or DEFAULT_AUTH_PIN
    password = args.sign_password or DEFAULT_SIGN_PASSWORD
    try:  # the card's own rules, so that the virtual card can be used at all
        Pin(Key.AUTH, auth_pin).wipe()
        Pin(Key.SIGN, password).wipe()
    except PinFormatError as exc:
        raise _UsageError(exc.message) from None
    profile = create_profile(args.profile, pki_dir=args.pki, now=dt.datetime.now(dt.UTC),
                             generation=args.generation, with_sign=not args.no_sign, auth_pin=auth_pin,
                             sign_password=password, token_label=args.token_label or DEFAULT_TOKEN_LABEL)
    print(f"wrote {profile.path} (generation {profile.generation}, signing pair: {_yes(profile.has_sign)})")
    return EXIT_OK


# --- entry point ------------------------------------------------------------------------------------


class _UsageError(Exception):
    pass


_CARD_COMMANDS = {"readers": cmd_readers, "info": cmd_info, "read-cert": cmd_read_cert, "sign": cmd_sign}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cardreader``."""
    args = build_parser().parse_args(argv)
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.command == "virtual-card":
            return cmd_virtual_card(args)
        if args.command == "make-profile":
            return cmd_make_profile(args)
        if args.command in agent_cli.COMMANDS:
            return agent_cli.run(args)
        result, text = _CARD_COMMANDS[args.command](args)
    except CardError as exc:
        return _fail(args, exc)
    except (_UsageError, ValueError) as exc:
        print(f"python -m cardreader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result, ensure_ascii=False) if args.json else text)
    return EXIT_OK


def _fail(args: argparse.Namespace, exc: CardError) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": exc.as_dict()}, ensure_ascii=False))
    else:
        print(f"error [{exc.reason.value}]: {exc.message}\n{exc.message_ja}", file=sys.stderr)
        if exc.detail:
            print(f"detail: {exc.detail}", file=sys.stderr)
    return EXIT_PIN if isinstance(exc, _PIN_ERRORS) else EXIT_CARD


__all__ = ["EXIT_CARD", "EXIT_OK", "EXIT_PIN", "EXIT_USAGE", "build_parser", "main"]
