"""``idp accounts …``: the operator's view of the key → account table (:mod:`idp.login.accounts`).

  idp accounts show --key-id KEYID     the account KEYID logs in to and the account's keys (key id, first or
                                       joined, via card | operator | consent, when); nothing personal
  idp accounts unlink --key-id KEYID   KEYID leaves its account: its logins give its own earlier ``sub`` again;
                                       refused (exit 1, with the reason) for the account's first key and for a
                                       key in no account

A key id is :func:`keys.cardlogin.account_id_for` of the card key (kind + public key); the person's card
certificate gives it, no ``sub`` does (pairwise, one-way). Every unlink, done or refused, is an audit entry
``card_unlink`` with references only (:mod:`idp.storage.audit`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from idp.login.accounts import Accounts, LinkRefused
from idp.runtime import Services, utcnow
from idp.storage.audit import account_ref, record


def add_parser(sub: Any) -> None:
    """The ``accounts`` subcommand."""
    parser = sub.add_parser("accounts", help="accounts with several card keys (show, unlink)")
    actions = parser.add_subparsers(dest="action", required=True)
    for name, help_text in (("show", "the account a key logs in to and its keys"),
                            ("unlink", "remove a joined key from its account")):
        actions.add_parser(name, help=help_text).add_argument("--key-id", required=True,
                                                              help="the key id (idp.login.accounts)")


def action(args: argparse.Namespace, show: Callable[[Any], None]) -> Callable[[Services], Awaitable[int]]:
    """The command to run with the provider's services."""

    async def run(services: Services) -> int:
        now, accounts = utcnow(), Accounts(services.objects)
        if args.action == "show":
            entry = await accounts.of(args.key_id, now)
            show({"key_id": args.key_id, "account": entry.account_id, "linked": entry.linked,
                  "keys": [{"key_id": key.key_id, "first": key.first, "via": key.via,
                            "linked_at": key.linked_at.isoformat()}
                           for key in await accounts.keys_of(entry.account_id, now)]})
            return 0
        key_ref = account_ref(services.settings, args.key_id)
        try:
            left = await accounts.unlink(args.key_id, now)
        except LinkRefused as exc:
            await record(services, "card_unlink", now, outcome="refused", reason=exc.reason, key_ref=key_ref,
                         actor="cli")
            print(f"unlink refused: {exc.reason}", file=sys.stderr)
            return 1
        await record(services, "card_unlink", now, outcome="success", account=left, key_ref=key_ref, actor="cli")
        show({"unlinked": args.key_id, "account": left})
        return 0
    return run


__all__ = ["action", "add_parser"]
