"""``python -m cardreader agent`` and ``python -m cardreader login``: see :mod:`cardreader.agent`.

Exit codes of ``login`` (those of :mod:`cardreader.cli`, plus 4): 0 logged in; 1 card or reader error; 2 usage
error; 3 PIN refused (incorrect, blocked, or last try not confirmed); 4 the provider refused the login or could
not be reached (the message says which), or the person cancelled.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

EXIT_OK, EXIT_CARD, EXIT_USAGE, EXIT_PIN, EXIT_LOGIN = 0, 1, 2, 3, 4
COMMANDS = ("agent", "login", "counter-key")
_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register ``agent`` and ``login`` on the subparsers of :func:`cardreader.cli.build_parser`."""
    from cardreader.agent.server import DEFAULT_PORT

    card = argparse.ArgumentParser(add_help=False)
    card.add_argument("--provider", required=True, help="the provider's issuer URL (https; http for loopback)")
    card.add_argument("--card-timeout", type=float, default=60.0, help="seconds to wait for a card (default 60)")
    agent = sub.add_parser("agent", parents=[common, card], help="serve the provider's login page on loopback")
    agent.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"loopback port (default {DEFAULT_PORT}; "
                                                                      "0 picks a free one)")
    agent.add_argument("--kiosk", action="store_true", help="forget each login and ask for the card's removal "
                                                            "before the next one; PIN pad by default")
    agent.add_argument("--pin-entry", choices=("terminal", "pinpad"),
                       help="where the PIN is typed (default: terminal, pinpad with --kiosk)")
    agent.add_argument("--counter-reader", help="serve CIBA requests for this registered reader name "
                                                "(cardreader.agent.counter)")
    agent.add_argument("--counter-key", help="the agent's key file for --counter-reader (see counter-key)")
    key = sub.add_parser("counter-key", help="create the agent's counter key (if absent) and print its public JWK")
    key.add_argument("file")
    key.add_argument("--verbose", action="store_true", help=argparse.SUPPRESS)
    login = sub.add_parser("login", parents=[common, card], help="complete a login shown on another device")
    login.add_argument("--code", required=True, help="the code the login page shows (e.g. ABCD-EFGH)")


def run(args: argparse.Namespace) -> int:
    """Run ``agent`` or ``login``."""
    _configure_logging(args.verbose)
    if args.command == "counter-key":
        return _counter_key(args.file)
    from cardreader.login import CardOptions, LoginError, Provider, Ticket

    card = CardOptions(reader=args.reader, test_mode=args.test_mode, card_timeout=args.card_timeout,
                       wait=max(args.wait, 2.0))
    try:
        provider = Provider(args.provider, test_mode=args.test_mode, kiosk=getattr(args, "kiosk", False))
        ticket = Ticket.code(args.code) if args.command == "login" else None
    except ValueError as exc:
        print(f"python -m cardreader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if ticket is None:
        return _agent(args, provider, card)
    from cardreader.agent.terminal import TerminalPrompt
    from cardreader.errors import CardError, LastTryNeedsConfirmation, PinBlocked, PinFormatError, PinIncorrect
    from cardreader.login import run_login

    prompt = TerminalPrompt()
    try:
        run_login(provider, ticket, prompt, card)
    except (CardError, LoginError) as exc:
        _report(args, {"error": exc.as_dict()}, f"error [{exc.reason}]: {exc.message}\n{exc.message_ja}",
                error=True)
        if isinstance(exc, PinIncorrect | PinBlocked | PinFormatError | LastTryNeedsConfirmation):
            return EXIT_PIN
        return EXIT_CARD if isinstance(exc, CardError) else EXIT_LOGIN
    finally:
        prompt.close()
        provider.close()
    _report(args, {"status": "verified"}, "Logged in. Continue on the other device.\n"
                                          "ログインしました。もう一方の端末で続けてください。")
    return EXIT_OK


def _counter_key(file: str) -> int:
    from pathlib import Path

    from cardreader.agent.counter import agent_public_jwk, load_or_create_key

    try:
        print(json.dumps(agent_public_jwk(load_or_create_key(Path(file)))))
    except (OSError, ValueError) as exc:
        print(f"python -m cardreader: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _report(args: argparse.Namespace, document: dict[str, object], text: str, *, error: bool = False) -> None:
    if args.json:
        print(json.dumps(document, ensure_ascii=False))
    else:
        print(text, file=sys.stderr if error else sys.stdout)


def _agent(args: argparse.Namespace, provider: Any, card: Any) -> int:
    from cardreader.agent.pinpad import PinPad
    from cardreader.agent.server import Agent, AgentConfig, AgentServer
    from cardreader.agent.terminal import TerminalPrompt
    from cardreader.login import PinPrompt

    pin_entry = args.pin_entry or ("pinpad" if args.kiosk else "terminal")
    pad = PinPad() if pin_entry == "pinpad" else None
    prompt: PinPrompt = pad if pad is not None else TerminalPrompt()
    agent = Agent(AgentConfig(provider.issuer, args.port, args.kiosk, pin_entry, card), provider, prompt)
    try:
        server = AgentServer(agent, pinpad=pad)
    except OSError as exc:
        print(f"python -m cardreader: error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return EXIT_USAGE

    link = None
    if args.counter_reader:
        from pathlib import Path

        from cardreader.agent.counter import CounterLink, load_or_create_key

        if not args.counter_key:
            print("python -m cardreader: error: --counter-reader needs --counter-key", file=sys.stderr)
            return EXIT_USAGE
        link = CounterLink(agent, args.counter_reader, load_or_create_key(Path(args.counter_key)))
        link.start()

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def ready(url: str) -> None:
        print(f"card agent for {provider.issuer} listening on {url} (PIN entry: {pin_entry}"
              f"{', kiosk' if args.kiosk else ''})", flush=True)

    try:
        server.serve(ready)
    finally:
        if link is not None:
            link.close()
        server.server_close()
        agent.close()
    return EXIT_OK


class _Formatter(logging.Formatter):
    """``logger: message key=value ...`` (the agent's log records carry their fields as extras)."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _RESERVED and not
                          k.startswith("_"))
        return f"{record.name}: {record.getMessage()}" + (f" {extras}" if extras else "")


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


__all__ = ["COMMANDS", "EXIT_LOGIN", "add_commands", "run"]
