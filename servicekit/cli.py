"""The commands both services' command lines share: ``config [--docs]`` and ``serve``.

Exit status: 0 success, 1 failure (the reason on standard error), 2 bad usage or invalid configuration.
Each service builds its own parser and wires its own application factory; the code is here once.

Usage::

    parser = argparse.ArgumentParser(prog="idp")
    add_config_option(parser, SCHEMA)
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve_parser(sub, help="run the provider")
    add_config_parser(sub)
    args = parser.parse_args(argv)
    settings = settings_for_command(SCHEMA, args, unsafe_warnings)   # answers `config` itself
    if isinstance(settings, int):
        return settings                                               # the exit status
    return serve("idp.app:app_from_environment", args, settings, config_env=SCHEMA.config_env)
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from servicekit.logs import configure_logging, logging_config
from servicekit.settings import LoggingSettings, ServerSettings, SettingsError, SettingsSchema

S = TypeVar("S")


class ServiceSettings(Protocol):
    """What the shared commands read of a service's settings: its ``[server]`` and ``[logging]`` sections."""

    @property
    def server(self) -> ServerSettings: ...

    @property
    def logging(self) -> LoggingSettings: ...


Service = TypeVar("Service", bound=ServiceSettings)

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
_SubParsers = Any  # argparse's _SubParsersAction is private


def dispatch(prog: str, modules: Mapping[str, str], argv: list[str]) -> int:
    """``python -m PACKAGE NAME [options]``: import the module of ``argv[0]`` (only the one chosen, so one
    command's dependencies never slow down or break another) and run its ``main(argv[1:]) -> int``."""
    if not argv or argv[0] not in modules:
        print(f"usage: {prog} {{{'|'.join(modules)}}} [options]", file=sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(modules[argv[0]])
    result: int = module.main(argv[1:])
    return result


def print_json(document: Any) -> None:
    """``document`` as indented JSON on standard output."""
    print(json.dumps(document, ensure_ascii=False, indent=2, default=str))


def add_config_option(parser: argparse.ArgumentParser, schema: SettingsSchema[Any]) -> None:
    """The global ``--config FILE`` option."""
    parser.add_argument("--config", type=Path, help=f"TOML configuration file (default: ${schema.config_env})")


def add_serve_parser(sub: _SubParsers, *, help: str) -> argparse.ArgumentParser:
    """``serve [--host H] [--port P] [--workers N]``."""
    serve = sub.add_parser("serve", help=help)
    serve.add_argument("--host", help="address to listen on (default: server.host)")
    serve.add_argument("--port", type=int, help="port to listen on (default: server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    parser: argparse.ArgumentParser = serve
    return parser


def add_config_parser(sub: _SubParsers) -> argparse.ArgumentParser:
    """``config [--docs]``."""
    config = sub.add_parser("config", help="print the effective settings (secrets hidden) or their documentation")
    config.add_argument("--docs", action="store_true", help="print every option as a Markdown table instead")
    parser: argparse.ArgumentParser = config
    return parser


def load_or_report(schema: SettingsSchema[S], config: Path | None) -> S | None:
    """The settings, or ``None`` after printing every problem on standard error (exit with :data:`EXIT_USAGE`)."""
    try:
        return schema.load(config)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return None


def run_config(schema: SettingsSchema[S], args: argparse.Namespace, warnings: Callable[[S], list[str]]) -> int:
    """``config --docs`` prints the documentation of every option; ``config`` checks the settings and prints
    their effective values (secrets only as ``(set)``/``(unset)``), the unsafe ones on standard error."""
    if args.docs:
        print(schema.describe())
        return EXIT_OK
    settings = load_or_report(schema, args.config)
    if settings is None:
        return EXIT_USAGE
    print_json(schema.effective(settings))
    for warning in warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def settings_for_command(schema: SettingsSchema[Service], args: argparse.Namespace,
                         warnings: Callable[[Service], list[str]]) -> Service | int:
    """What every command starts with: ``config`` is answered here (its exit status is returned); any other
    command gets the settings, with logging configured at ``logging.level``, or :data:`EXIT_USAGE` after every
    problem was printed."""
    if args.command == "config":
        return run_config(schema, args, warnings)
    settings = load_or_report(schema, args.config)
    if settings is None:
        return EXIT_USAGE
    configure_logging(settings.logging.level)
    return settings


def serve(factory: str, args: argparse.Namespace, settings: ServiceSettings, *, config_env: str,
          metrics_dir_prefix: str | None = None) -> int:
    """Run ``factory`` (``module:function`` returning the ASGI app) under uvicorn with JSON logs, on
    ``[server]`` unless ``--host``, ``--port``, ``--workers`` say otherwise.

    Workers read the settings themselves, so ``--config`` is handed to them as ``config_env``. With
    ``metrics_dir_prefix`` and several workers, ``PROMETHEUS_MULTIPROC_DIR`` points to a temporary directory
    (removed at exit) unless already set, so that any worker reports the metrics of all.
    """
    import uvicorn

    server = settings.server
    workers = args.workers or server.workers
    metrics_dir = None
    if metrics_dir_prefix is not None and workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix=metrics_dir_prefix)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if args.config is not None:
        os.environ[config_env] = str(args.config.resolve())
    try:
        uvicorn.run(factory, factory=True, host=args.host or server.host, port=args.port or server.port,
                    workers=workers, log_config=logging_config(settings.logging.level), access_log=False,
                    server_header=False, lifespan="on", http="httptools", loop="uvloop")
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return EXIT_OK
