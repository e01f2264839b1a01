"""``python -m credentials verifier``: run and inspect the verifier service.

  python -m credentials verifier serve [--config F] [--host H] [--port P] [--workers N]
  python -m credentials verifier config [--config F] [--docs]

Exit status: 0 success, 1 failure to start (the reason on standard error), 2 bad usage or invalid configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.config
import os
import sys
from pathlib import Path
from typing import Any

from credentials.verifier.logs import logging_config
from credentials.verifier.runtime import StartupError, build_service, prepare
from credentials.verifier.settings import (
    CONFIG_ENV,
    Secret,
    SettingsError,
    describe,
    iter_options,
    load_settings,
    unsafe_warnings,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="python -m credentials verifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help=f"TOML configuration file (default: ${CONFIG_ENV})")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service (uvicorn)")
    serve.add_argument("--host", help="address to listen on (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    config = sub.add_parser("config", help="effective settings (secrets hidden) or their documentation")
    config.add_argument("--docs", action="store_true", help="print every option as a Markdown table")
    return parser


def main(argv: list[str]) -> int:
    """Run the command in ``argv``."""
    args = build_parser().parse_args(argv)
    if args.command == "config" and args.docs:
        print(describe())
        return EXIT_OK
    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if args.command == "config":
        shown: dict[str, Any] = {}
        for opt in iter_options():
            value = getattr(settings if opt.section is None else getattr(settings, opt.section), opt.name)
            shown[opt.key] = ("(set)" if value else "(unset)") if isinstance(value, Secret) else value
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return EXIT_OK
    logging.config.dictConfig(logging_config(settings.log_level))
    log = logging.getLogger("credentials.verifier")
    for warning in unsafe_warnings(settings):
        log.warning(warning)
    try:
        asyncio.run(prepare(settings))
        build_service(settings)  # fail here, once, rather than in every worker
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    import uvicorn

    if args.config is not None:
        os.environ[CONFIG_ENV] = str(args.config.resolve())
    uvicorn.run("credentials.verifier.app:app_from_environment", factory=True,
                host=args.host or settings.server.host, port=args.port or settings.server.port,
                workers=args.workers or settings.server.workers, log_config=logging_config(settings.log_level),
                access_log=False, server_header=False, lifespan="on")
    return EXIT_OK
