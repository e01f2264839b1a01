"""``idp counter …``: the counters' readers (CIBA authentication devices, :mod:`idp.login.counter`).

  idp counter add NAME --jwk FILE       register (or re-key) reader NAME with its agent's public key
  idp counter remove NAME               forget reader NAME
  idp counter client CLIENT_ID --mode poll|ping [--notification-endpoint URL]
                                        a client's CIBA token delivery (CIBA Core §4); poll without a record
  idp counter kiosk CLIENT_ID [--off]   mark a kiosk's client: no single sign-on, no session (idp.oauth.kiosk)

The agent's key pair comes from ``python -m cardreader counter-key FILE`` on the counter's machine, which prints the
public JWK for ``--jwk``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from idp.login import counter
from idp.oauth.kiosk import set_kiosk_client
from idp.runtime import Services, utcnow


def add_parser(sub: Any) -> None:
    """The ``counter`` subcommand."""
    parser = sub.add_parser("counter", help="counter readers for CIBA (card agents as authentication devices)")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register a reader's agent key")
    add.add_argument("name", help="the reader's name; clients send login_hint=reader:NAME")
    add.add_argument("--jwk", type=Path, required=True, help="file with the agent's public JWK (EC P-256)")
    remove = actions.add_parser("remove", help="forget a reader")
    remove.add_argument("name")
    client = actions.add_parser("client", help="a client's CIBA token delivery mode")
    client.add_argument("client_id")
    client.add_argument("--mode", choices=["poll", "ping"], required=True)
    client.add_argument("--notification-endpoint", help="backchannel_client_notification_endpoint (ping)")
    kiosk = actions.add_parser("kiosk", help="mark a kiosk's client (its logins open no session)")
    kiosk.add_argument("client_id")
    kiosk.add_argument("--off", action="store_true", help="unmark it")


def action(args: argparse.Namespace, show: Callable[[Any], None]) -> Callable[[Services], Awaitable[int]]:
    """The command to run with the provider's services."""

    async def run(services: Services) -> int:
        now = utcnow()
        if args.action == "add":
            await counter.register_reader(services, args.name, json.loads(args.jwk.read_text(encoding="utf-8")), now)
            show({"reader": args.name, "login_hint": counter.LOGIN_HINT_PREFIX + args.name})
        elif args.action == "remove":
            await counter.remove_reader(services, args.name)
            show({"removed": args.name})
        elif await services.clients.get(args.client_id) is None:
            raise ValueError(f"no client {args.client_id}")
        elif args.action == "kiosk":
            await set_kiosk_client(services, args.client_id, not args.off, now)
            show({"client_id": args.client_id, "kiosk": not args.off})
        else:
            await counter.set_ciba_client(services, args.client_id,
                                          counter.CibaClient(args.mode, args.notification_endpoint), now)
            show({"client_id": args.client_id, "backchannel_token_delivery_mode": args.mode,
                  "backchannel_client_notification_endpoint": args.notification_endpoint})
        return 0
    return run


__all__ = ["action", "add_parser"]
