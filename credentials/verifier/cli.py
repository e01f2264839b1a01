"""``python -m credentials verifier``: run and inspect the verifier service.

  python -m credentials verifier serve [--config F] [--host H] [--port P] [--workers N]
  python -m credentials verifier config [--config F] [--docs]

Exit status: 0 success, 1 failure to start (the reason on standard error), 2 bad usage or invalid configuration.
The commands themselves are :mod:`servicekit.cli`, shared with the provider.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from credentials.verifier.runtime import StartupError, build_service, prepare
from credentials.verifier.settings import SCHEMA, unsafe_warnings
from servicekit import cli
from servicekit.cli import EXIT_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser."""
    parser = argparse.ArgumentParser(prog="python -m credentials verifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_config_option(parser, SCHEMA)
    sub = parser.add_subparsers(dest="command", required=True)
    cli.add_serve_parser(sub, help="run the service (uvicorn)")
    cli.add_config_parser(sub)
    return parser


def main(argv: list[str]) -> int:
    """Run the command in ``argv``."""
    args = build_parser().parse_args(argv)
    settings = cli.settings_for_command(SCHEMA, args, unsafe_warnings)
    if isinstance(settings, int):
        return settings
    log = logging.getLogger("credentials.verifier")
    for warning in unsafe_warnings(settings):
        log.warning(warning)
    try:
        asyncio.run(prepare(settings))
        build_service(settings)  # fail here, once, rather than in every worker
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    return cli.serve("credentials.verifier.app:app_from_environment", args, settings, config_env=SCHEMA.config_env)
