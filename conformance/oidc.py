"""OpenID Connect provider conformance: two independent relying parties (openid-client from npm, idpyoidc from
PyPI) and negative modules of the OpenID conformance Basic and Config plans, against our provider and against npm
``oidc-provider`` configured alike (the reference that proves the harness: a scenario that passes there and fails
on ours points at our bug).

Usage: ``python -m conformance oidc [--target ours|oidc-provider|both|ours-card] [--only TEXT] [--keep DIR]``.
``ours-card`` runs openid-client against our provider with the real card login in the loop (the virtual card in a
private pcscd and the card agent; :mod:`conformance.oidc_card`) instead of the TEST authenticator.

For each target it starts the provider on a free loopback port (:mod:`conformance.oidc_targets`; ours is
``idp serve`` in test mode with a fresh SQLite data directory and the TEST authenticator), registers the clients of
:mod:`conformance.oidc_clients`, starts the openid-client driver (:mod:`conformance.oidc_driver`) and runs
:data:`conformance.oidc_scenarios.SCENARIOS` then :data:`conformance.oidc_idpy.SCENARIOS`. The harness's browser
(:mod:`conformance.oidc_browser`) does the user's part over plain HTTP. Nothing leaves loopback; npm's registry
is used only by ``npm ci`` when ``conformance/oidc_node/node_modules`` is missing.

Prints ``PASS``/``FAIL [target] scenario: detail`` per scenario, then ``oidc: N passed, M failed``; exits 1 when
a scenario fails.
"""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from conformance import oidc_card, oidc_idpy, oidc_scenarios
from conformance.oidc_clients import ClientSpec, standard_clients, stop_uris
from conformance.oidc_driver import OpenIdClient, RpError
from conformance.oidc_scenarios import Failed
from conformance.oidc_targets import Target, TargetError, oidc_provider, ours, workdir

TARGETS: Final = ("oidc-provider", "ours")
#: Our provider with the card authenticator, the virtual card and the agent (not part of ``both``).
CARD_TARGET: Final = "ours-card"
_Ctx = TypeVar("_Ctx")


@dataclass(frozen=True)
class Result:
    """One scenario's outcome on one target."""

    target: str
    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} [{self.target}] {self.name}: {self.detail}"


def _explain(exc: BaseException) -> str:
    if isinstance(exc, Failed | RpError | TargetError):
        return str(exc)
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(exc).__name__}{where}: {exc}"


def _run(running: Target, scenarios: Sequence[tuple[str, Callable[[_Ctx], str]]], ctx: _Ctx) -> Iterator[Result]:
    for name, scenario in scenarios:
        marks = running.log_marks()
        try:
            yield Result(running.name, name, True, scenario(ctx))
        except Exception as exc:  # a scenario's crash is that scenario's failure, never the run's
            errors = sorted(set(running.server_errors(marks)))
            hint = f" [server: {'; '.join(errors)[:300]}]" if errors else ""
            yield Result(running.name, name, False, _explain(exc) + hint)


def _all_fail(target: str, reason: str, only: str) -> Iterator[Result]:
    for name, _ in (*oidc_scenarios.SCENARIOS, *oidc_idpy.SCENARIOS):
        if only.lower() in name.lower():
            yield Result(target, name, False, reason)


def _start(target: str, clients: dict[str, ClientSpec], directory: Path) -> AbstractContextManager[Target]:
    return oidc_provider(clients, directory) if target == "oidc-provider" else ours(clients, directory)


def run_card_target(directory: Path, *, only: str = "") -> Iterator[Result]:
    """Our provider with the real card login (:mod:`conformance.oidc_card`) and its scenarios."""
    directory.mkdir(parents=True, exist_ok=True)
    clients = standard_clients()
    scenarios = [s for s in oidc_card.SCENARIOS if only.lower() in s[0].lower()]
    try:
        with oidc_card.ours_card(clients, directory) as running, OpenIdClient(directory / "driver.log") as rp:
            try:
                with oidc_scenarios.context(running, rp, clients) as ctx:
                    ctx.browser_type = oidc_card.CardBrowser
                    yield from _run(running, scenarios, ctx)
            except RpError as exc:
                reason = f"openid-client could not configure itself (discovery): {exc}"
                yield from (Result(CARD_TARGET, name, False, reason) for name, _ in scenarios)
    except TargetError as exc:
        yield from (Result(CARD_TARGET, name, False, f"target did not start: {exc}") for name, _ in scenarios)


def run_target(target: str, directory: Path, *, only: str = "") -> Iterator[Result]:
    """Start ``target`` under ``directory`` and run every scenario whose name contains ``only``."""
    if target == CARD_TARGET:
        yield from run_card_target(directory, only=only)
        return
    directory.mkdir(parents=True, exist_ok=True)
    clients = standard_clients()
    rp_scenarios = [s for s in oidc_scenarios.SCENARIOS if only.lower() in s[0].lower()]
    idpy_scenarios = [s for s in oidc_idpy.SCENARIOS if only.lower() in s[0].lower()]
    try:
        with _start(target, clients, directory) as running, OpenIdClient(directory / "driver.log") as rp:
            try:
                with oidc_scenarios.context(running, rp, clients) as ctx:
                    yield from _run(running, rp_scenarios, ctx)
            except RpError as exc:
                reason = f"openid-client could not configure itself (discovery): {exc}"
                yield from (Result(target, name, False, reason) for name, _ in rp_scenarios)
            session = oidc_idpy.IdpySession(running, clients["idpy"], stop_uris(clients))
            yield from _run(running, idpy_scenarios, session)
    except TargetError as exc:
        yield from _all_fail(target, f"target did not start: {exc}", only)


def main(argv: Sequence[str]) -> int:
    """Entry point of ``python -m conformance oidc``."""
    parser = argparse.ArgumentParser(prog="python -m conformance oidc", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=(*TARGETS, CARD_TARGET, "both"), default="both")
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (server and driver logs)")
    args = parser.parse_args(list(argv))
    targets = TARGETS if args.target == "both" else (args.target,)
    passed = failed = 0
    with workdir(args.keep, "conformance-oidc-") as base:
        for target in targets:
            for result in run_target(target, base / target, only=args.only):
                print(result.line(), flush=True)
                passed, failed = passed + result.passed, failed + (not result.passed)
    print(f"oidc: {passed} passed, {failed} failed")
    return 1 if failed else 0


__all__ = ["CARD_TARGET", "TARGETS", "Result", "main", "run_target"]
