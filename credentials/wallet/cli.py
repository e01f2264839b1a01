"""``python -m credentials wallet``: a small holder for tests and demos.

  wallet --file W accept OFFER [--tx-code C] [--login agent|test] ...   receive the credentials of an offer
  wallet --file W deferred                                              collect deferred issuances
  wallet --file W list | show ID | delete ID                            the stored credentials
  wallet --file W present REQUEST_URL [--disclose PATH ...]             answer an OpenID4VP request

Every command prints one JSON object; exit status 0 success, 1 failure (``{"error": ...}``), 2 bad usage.
``--test-mode`` (or ``MYNACARD_TEST_MODE=1``) accepts http issuers on loopback and test roots (``O=…TEST``).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.errors import CredentialError
from credentials.oid4vci.errors import IssuanceError
from credentials.sdjwt.holder import HeldSdJwt
from credentials.wallet.attestation import KeyAttester
from credentials.wallet.http import WalletError
from credentials.wallet.issuance import ReceiveOptions, collect_deferred, receive
from credentials.wallet.login import CardAgentLogin, LoginDriver, LoginFailed, TestLogin
from credentials.wallet.presentation import parse_path, present, read_request
from credentials.wallet.store import WalletFile
from keys.errors import VerificationError
from keys.trust import TrustStore, fingerprint


def build_parser() -> argparse.ArgumentParser:
    """The wallet's argument parser."""
    parser = argparse.ArgumentParser(prog="python -m credentials wallet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, required=True, help="the wallet file (created when missing)")
    parser.add_argument("--test-mode", action="store_true", default=os.environ.get("MYNACARD_TEST_MODE") == "1",
                        help="accept http issuers on loopback and test trust roots")
    sub = parser.add_subparsers(dest="command", required=True)
    accept = sub.add_parser("accept", help="receive the credentials of an offer (link, offer URI or JSON)")
    accept.add_argument("offer")
    accept.add_argument("--grant", choices=["auto", "pre-authorized_code", "authorization_code"], default="auto")
    accept.add_argument("--tx-code", help="the Transaction Code shown on the other device")
    accept.add_argument("--client-id", help="the wallet's client_id (required for the authorization code flow)")
    accept.add_argument("--redirect-uri", help="the wallet's registered redirect URI")
    accept.add_argument("--use-scope", action="store_true", help="ask by scope values, not authorization_details")
    accept.add_argument("--login", choices=["agent", "test"], default="agent", help="how the person logs in")
    accept.add_argument("--agent-url", default="http://127.0.0.1:47210", help="the card agent (login agent)")
    accept.add_argument("--account", default="wallet-test-account", help="test login: the account id")
    accept.add_argument("--claims", default="{}", help="test login: the claims (JSON object)")
    accept.add_argument("--facts", help="test login: the four facts and not_after (JSON object)")
    accept.add_argument("--with-sex", action="store_true", help="opt in to sex in the basic facts credential")
    accept.add_argument("--approve", action="append", help="approve only these claims on the consent page")
    accept.add_argument("--batch", type=int, default=1, help="credentials per configuration (one key each)")
    accept.add_argument("--trust-root", type=Path, help="PEM root the issuer's x5c chain must validate to")
    accept.add_argument("--attester-key", type=Path, help="PEM key of a key attester (adds key attestations)")
    accept.add_argument("--attester-chain", type=Path, help="PEM chain of that attester (leaf first)")
    accept.add_argument("--wait", type=float, default=0.0, help="seconds to poll a deferred issuance")
    accept.add_argument("--no-notify", action="store_true", help="send no notification")
    sub.add_parser("deferred", help="collect deferred issuances")
    sub.add_parser("list", help="the stored credentials (type, issuer, id; no claim values)")
    show = sub.add_parser("show", help="one credential with all its claims")
    show.add_argument("id")
    delete = sub.add_parser("delete", help="delete a credential and its key")
    delete.add_argument("id")
    presentation = sub.add_parser("present", help="answer an OpenID4VP Authorization Request")
    presentation.add_argument("request")
    presentation.add_argument("--disclose", action="append", help="release only this claim path (a.b or JSON)")
    presentation.add_argument("--verifier-root", type=Path, help="PEM root the verifier's x5c must validate to")
    return parser


def trust_store(path: Path, test_mode: bool) -> TrustStore:
    """A store pinning every certificate of a PEM file."""
    roots = x509.load_pem_x509_certificates(path.read_bytes())
    return TrustStore.build([(path.name, c.public_bytes(Encoding.DER)) for c in roots], allow_test_roots=test_mode,
                            extra_pins={fingerprint(c): path.name for c in roots})


def _login(args: argparse.Namespace) -> LoginDriver:
    if args.login == "test":
        return TestLogin(args.account, json.loads(args.claims), None if args.facts is None else json.loads(args.facts))
    return CardAgentLogin(args.agent_url)


def _options(args: argparse.Namespace) -> ReceiveOptions:
    attester = None
    if args.attester_key is not None and args.attester_chain is not None:
        attester = KeyAttester.load(args.attester_key, args.attester_chain)
    return ReceiveOptions(
        grant=args.grant, client_id=args.client_id, redirect_uri=args.redirect_uri, tx_code=args.tx_code,
        batch=args.batch, use_scope=args.use_scope, login=_login(args), with_sex=args.with_sex, approve=args.approve,
        trust=None if args.trust_root is None else trust_store(args.trust_root, args.test_mode), attester=attester,
        allow_http=args.test_mode, wait=args.wait, notify=not args.no_notify)


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("id", "issuer", "configuration_id", "vct", "received_at")}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run one command; its JSON result."""
    wallet = WalletFile.open(args.file)
    if args.command == "accept":
        result = receive(args.offer, wallet, _options(args))
        return {"credentials": result.credential_ids, "deferred": result.deferred}
    if args.command == "deferred":
        options = ReceiveOptions(allow_http=args.test_mode)
        collected = collect_deferred(wallet, options)
        return {"credentials": collected.credential_ids, "pending": [d["transaction_id"] for d in wallet.deferred]}
    if args.command == "list":
        return {"credentials": [_summary(c) for c in wallet.credentials]}
    if args.command in ("show", "delete"):
        entry = next((c for c in wallet.credentials if c["id"] == args.id), None)
        if entry is None:
            raise WalletError(f"no credential {args.id}")
        if args.command == "delete":
            wallet.credentials.remove(entry)
            wallet.save()
            return {"deleted": args.id}
        return {**_summary(entry), "claims": dict(HeldSdJwt.parse(entry["credential"]).claims)}
    trust = None if args.verifier_root is None else trust_store(args.verifier_root, args.test_mode)
    request = read_request(args.request, trust=trust)
    disclose = None if args.disclose is None else [parse_path(p) for p in args.disclose]
    sent = present(wallet, request, disclose=disclose)
    return {"status": sent.status, "response": sent.response,
            "presented": {k: len(v) for k, v in sent.vp_token.items()}}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m credentials wallet``."""
    args = build_parser().parse_args(argv)
    try:
        print(json.dumps(run(args), ensure_ascii=False, indent=1))
    except (WalletError, LoginFailed, IssuanceError, CredentialError, VerificationError, ValueError, OSError) as exc:
        error = getattr(exc, "error", None) or getattr(getattr(exc, "reason", None), "value", None)
        print(json.dumps({"error": error or type(exc).__name__, "detail": str(exc)}, ensure_ascii=False))
        return 1
    return 0


__all__ = ["build_parser", "main", "run", "trust_store"]
