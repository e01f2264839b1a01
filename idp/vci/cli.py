"""``idp credentials …``: the credential issuer's admin commands.

  idp credentials revoke|suspend|reinstate (--credential ID | --list URI_OR_N --index I | --dataset D)
  idp credentials status-lists        every Token Status List with its fill and version
  idp credentials keys                the credential signing keys with their state and certificate
  idp credentials sweep               re-check issued credentials against the CRLs now
  idp credentials ca                  the issuing CA chain (and the development root, if any), PEM

``revoke`` sets INVALID (final), ``suspend`` SUSPENDED, ``reinstate`` VALID again (from SUSPENDED only). A
relying party that checked a credential's status reference gives ``--list`` (the ``uri``) and ``--index``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from idp.runtime import Services, utcnow
from idp.vci.jobs import revocation_sweep
from idp.vci.service import issuer_of
from idp.vci.status import STATUS_PATH, change_status

_ACTIONS = {"revoke": "invalid", "suspend": "suspended", "reinstate": "valid"}


def add_parser(sub: Any) -> None:
    """The ``credentials`` subcommand."""
    parser = sub.add_parser("credentials", help="issued credentials, status lists, credential keys")
    actions = parser.add_subparsers(dest="action", required=True)
    for name in _ACTIONS:
        change = actions.add_parser(name, help=f"{name} credentials")
        choice = change.add_mutually_exclusive_group(required=True)
        choice.add_argument("--credential", type=int, help="the credential's row id")
        choice.add_argument("--list", help="a status list: its URI (status_list.uri) or number")
        choice.add_argument("--dataset", help="every credential of one credential dataset")
        change.add_argument("--index", type=int, help="the status index (with --list)")
    actions.add_parser("status-lists", help="the Token Status Lists")
    actions.add_parser("keys", help="the credential signing keys")
    actions.add_parser("sweep", help="re-check issued credentials against the CRLs now")
    actions.add_parser("ca", help="the issuing CA chain, PEM")


def _list_id(value: str, issuer: str) -> int:
    text = value.removeprefix(issuer + STATUS_PATH + "/")
    if not text.isdigit():
        raise ValueError(f"{value} is not one of this issuer's status lists")
    return int(text)


def action(args: argparse.Namespace, show: Callable[[Any], None]) -> Callable[[Services], Awaitable[int]]:
    """The command to run with the provider's services."""

    async def run(services: Services) -> int:
        vci = issuer_of(services)
        if vci is None:
            raise ValueError("the credential issuer is not configured")
        now = utcnow()
        if args.action in _ACTIONS:
            selection: dict[str, Any] = {}
            if args.list is not None:
                if args.index is None:
                    raise ValueError("--list needs --index")
                selection.update(status_list_id=_list_id(args.list, services.settings.issuer), status_idx=args.index)
            elif args.credential is not None:
                selection["credential_id"] = args.credential
            else:
                selection["dataset"] = args.dataset
            changed = await change_status(services, _ACTIONS[args.action], actor="cli", **selection)
            show({"changed": changed})
        elif args.action == "status-lists":
            show(await vci.store.status_lists.summaries())
        elif args.action == "keys":
            keys = await vci.keys.keyset.keys(now, reload=True)
            show([{"kid": k.kid, "state": k.state(now).value, "backend": k.backend, "created_at": k.created_at,
                   "activate_at": k.activate_at, "retire_at": k.retire_at, "expires_at": k.expires_at,
                   "certificate": await vci.store.key_certificates.key_certificate(k.kid) is not None}
                  for k in keys])
        elif args.action == "sweep":
            report = await revocation_sweep(services)
            show({"crls": report.crls, "revoked": report.revoked, "denied": report.denied})
        else:
            chain = [c.public_bytes(Encoding.PEM).decode("ascii") for c in vci.keys.ca.chain]
            root = vci.keys.ca.root
            show({"chain": chain, "development_root": None if root is None else root.public_bytes(Encoding.PEM)
                  .decode("ascii")})
        return 0

    return run


__all__ = ["action", "add_parser"]
