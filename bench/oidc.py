"""``python -m bench oidc``: complete OpenID Connect flows per second, ours against npm oidc-provider, in one run.

One flow is what a confidential relying party does for a user who already has a session at the provider:

1. ``POST`` the pushed authorization request (RFC 9126) with private_key_jwt (ES256 client assertion), PKCE S256,
   ``scope=openid``, ``state`` and ``nonce``;
2. ``GET`` the authorization endpoint with the ``request_uri`` and the session cookie, following redirects until
   the provider sends the browser to the redirect URI with a code (no interaction: the session and the grant
   exist);
3. ``POST`` the token request (authorization code, ``code_verifier``, a fresh client assertion) — timed;
4. ``GET`` userinfo with the access token (the steps: :mod:`conformance.oidc_flow`).

Contenders, each with 2 server processes, the same client (``rp-jwt``, registered from
:func:`conformance.oidc_clients.standard_clients`) and the same flow, started one after the other on free
loopback ports (:mod:`conformance.oidc_targets`):

* ``oidc-provider``: npm oidc-provider 9 configured like ours (``conformance/oidc_node/server.mjs``), two
  independent processes; its in-memory adapter cannot be shared, so each flow stays on one process (flows
  alternate between them), and that store costs it no I/O at all;
* ``ours-sqlite``: ``idp serve --workers 2`` on a fresh SQLite file;
* ``ours-postgresql``: the same on a private PostgreSQL cluster (``tests/support/postgres.py``; fsync off).

Method. The load generator is one separate process (``spawn``), an asyncio loop with httpx, so the providers'
CPU accounting never includes it; it signs the client assertions with PyJWT (not our JOSE code) and keeps one
HTTP client, with one kept-alive connection, per flow in flight (as independent relying parties have; a shared
pool costs the generator a scan of all its connections per request). It first logs in once per issuer through the
scripted TEST login (:class:`conformance.oidc_browser.Browser`), then:

* capacity: ``--concurrency`` flows in flight (closed loop) for ``--seconds``, in ``--rounds`` rounds (default 3):
  every contender runs, idle while another is measured, and each round measures each contender once, the order
  reversed in every other round, so that a slower or faster stretch of a shared machine falls on all of them
  rather than on whichever ran then (``--rounds 1``: one phase each, one after the other). Each phase follows an
  unmeasured warm-up (``--warmup`` seconds in the first round, 1 s later). ``flows_per_s`` is the completed flows
  over the measured time of all rounds, ``flows_per_s_by_round`` each round's, and ``ratio_by_round`` each
  round's ratio to oidc-provider's in the same round;
* latency: after the rounds, an open loop starting flows at half that rate, evenly spaced, for ``--seconds``;
  ``token_p50_ms`` and ``token_p99_ms`` are the token requests' latencies as the generator sees them (send to last
  byte), and ``step_p50_ms_at_half`` the median of each step (the authorization step counts all its redirects);
* memory: ``rss_mb`` is VmRSS of each server process (uvicorn's workers, not its supervisor) after all phases,
  ``peak_rss_mb`` their VmHWM, read from ``/proc``;
* CPU: ``server_cpu_ms_per_flow`` is the servers' user+system CPU time (``/proc/PID/stat``) over the capacity
  phases divided by their flows; ``generator_cpu_share`` is the generator's own CPU time over wall time (near 1.0
  means the generator, not the server, was the limit);
* database: on PostgreSQL ``statements_per_flow`` counts the statements the cluster ran in the capacity phases
  (``pg_stat_statements``, every call of every statement of the provider's database) per flow, and
  ``database_cpu_ms_per_flow`` the CPU of the cluster's processes per flow (the servers' figure excludes it).
  SQLite runs in the workers' processes (its CPU is in theirs; statements not counted: ``null``); oidc-provider's
  in-memory adapter runs no statements at all (``null``: its adapter calls are plain Map operations).

The machine has 2 cores shared by the 2 server processes and the generator; all contenders run under the same
conditions, measured one at a time (``loadavg_at_start`` tells whether something else was running). Connections are
kept alive, as relying parties do. Targets: ours >= 1.0x oidc-provider's flows/s; token p99 < 50 ms at half capacity;
RSS < 200 MB per worker. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

import httpx

from conformance.oidc_clients import ClientSpec, standard_clients
from conformance.oidc_flow import Relying, log_in, run_flow
from conformance.oidc_targets import Target, TargetError, oidc_provider, ours, workdir
from tests.support.postgres import Cluster, install

WORKERS: Final = 2
#: Warm-up seconds before each capacity phase after the first round's (the servers are warm; the generator's new
#: connections and login are not measured).
_ROUND_WARMUP: Final = 1.0
_ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class LoadSpec:
    """What the generator needs: the issuers (one per independent server), the client and the load shape."""

    issuers: list[str]
    client_id: str
    private_jwk: dict[str, str]
    redirect_uri: str
    seconds: float
    concurrency: int = 0
    rate: float = 0.0


@dataclass
class LoadResult:
    """What the generator measured."""

    flows: int = 0
    errors: int = 0
    first_error: str = ""
    elapsed: float = 0.0
    step_ms: dict[str, list[float]] = field(default_factory=dict)
    generator_cpu_s: float = 0.0


async def _generate(spec: LoadSpec) -> LoadResult:
    rp = Relying(spec.client_id, spec.private_jwk, spec.redirect_uri)
    sessions = [log_in(issuer, rp) for issuer in spec.issuers]
    # One HTTP client (one kept-alive connection) per flow in flight, as independent relying parties have: httpx's
    # pool scans all of its connections on every request, so one shared pool of 16 costs the generator several
    # times the bookkeeping per request of two pools of 8 (one per oidc-provider process) and made the generator,
    # not the contender, the limit against a single-port contender.
    idle: list[list[httpx.AsyncClient]] = [[] for _ in sessions]
    clients: list[httpx.AsyncClient] = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    tls = httpx.create_ssl_context()  # unused on loopback http, but each client would load the CA bundle again
    result = LoadResult()
    counter = itertools.count()
    measuring = False

    async def one() -> None:
        index = next(counter) % len(sessions)
        if idle[index]:
            client = idle[index].pop()
        else:
            client = httpx.AsyncClient(cookies=sessions[index][1], limits=limits, timeout=30, verify=tls)
            clients.append(client)
        try:
            steps = (await run_flow(client, sessions[index][0], rp)).steps
        except (httpx.HTTPError, RuntimeError, KeyError, ValueError) as exc:
            result.errors += 1
            result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
            return
        finally:
            idle[index].append(client)
        if measuring:
            result.flows += 1
            for step, ms in steps.items():
                result.step_ms.setdefault(step, []).append(ms)

    try:
        loop = asyncio.get_running_loop()

        async def worker(until: float) -> None:
            while loop.time() < until:
                await one()

        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        measuring, started = True, loop.time()
        if spec.concurrency:
            await asyncio.gather(*(worker(started + spec.seconds) for _ in range(spec.concurrency)))
        else:
            tasks = []
            for n in range(int(spec.seconds * spec.rate)):
                await asyncio.sleep(max(0.0, started + n / spec.rate - loop.time()))
                tasks.append(asyncio.create_task(one()))
            await asyncio.gather(*tasks)
        result.elapsed = loop.time() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        result.generator_cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    finally:
        for client in clients:
            await client.aclose()
    return result


def generate_load(spec: LoadSpec) -> LoadResult:
    """The load generator's entry point (runs in its own process)."""
    return asyncio.run(_generate(spec))


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / _CLK_TCK


def _status_mb(pid: int, name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _workers(target: Target) -> list[int]:
    """Server processes, without multiprocessing's helper processes."""
    return [pid for pid in target.worker_pids()
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@contextlib.contextmanager
def _profiled(pids: list[int], into: Path | None, seconds: float, round_: int) -> Iterator[None]:
    """With ``into``: sample each of ``pids`` with py-spy for ``seconds`` (``py-spy-PID-ROUND.txt``: collapsed stacks,
    for a flame graph or ``sort``), which itself costs the sampled processes some CPU; else nothing."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if into is None or spy is None:
        yield
        return
    samplers = [subprocess.Popen([spy, "record", "--nonblocking", "-r", "250", "-f", "raw", "-d", str(int(seconds)),
                                  "-o", str(into / f"py-spy-{pid}-{round_}.txt"), "-p", str(pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]
    try:
        yield
    finally:
        for sampler in samplers:
            sampler.wait(timeout=seconds + 30)


@dataclass
class DatabaseProbe:
    """The PostgreSQL cluster behind a contender: its statement count and its processes."""

    cluster: Cluster
    url: str

    def statements(self) -> int:
        """Calls of every statement in the provider's database so far (this query's own call included)."""
        return int(self.cluster.sql(self.url, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE dbid = "
                                              "(SELECT oid FROM pg_database WHERE datname = current_database())"))

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.cluster.server_pids())

    def calls_by_statement(self) -> dict[str, int]:
        """Calls so far of each statement of the provider's database, by its normalised text."""
        rows = self.cluster.sql(self.url, "SELECT calls, regexp_replace(query, '\\s+', ' ', 'g') FROM "
                                          "pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
                                          "WHERE datname = current_database())")
        calls: dict[str, int] = {}
        for row in rows.splitlines():
            count, _, query = row.partition("|")
            calls[query] = calls.get(query, 0) + int(count)
        return calls

    def write_breakdown(self, before: dict[str, int], flows: int, path: Path) -> None:
        """Calls per flow of each statement since ``before`` (most first), as ``calls_per_flow<TAB>statement``."""
        after = self.calls_by_statement()
        per_flow = sorted(((after[q] - before.get(q, 0)) / flows, q) for q in after)
        path.write_text("".join(f"{n:.2f}\t{q}\n" for n, q in reversed(per_flow) if n >= 0.005))


@dataclass
class Contender:
    """One running target and what its capacity rounds added up to."""

    name: str
    target: Target
    client: ClientSpec
    database: DatabaseProbe | None = None
    pids: list[int] = field(default_factory=list)
    flows: int = 0
    elapsed: float = 0.0
    errors: int = 0
    first_error: str = ""
    server_cpu_s: float = 0.0
    generator_cpu_s: float = 0.0
    statements: int = 0
    database_cpu_s: float = 0.0
    token_ms: list[float] = field(default_factory=list)
    by_round: list[float] = field(default_factory=list)
    latency: LoadResult | None = None

    def spec(self, seconds: float, *, concurrency: int = 0, rate: float = 0.0) -> LoadSpec:
        assert self.client.private_jwk is not None
        return LoadSpec(self.target.issuers, self.client.client_id, self.client.private_jwk, self.client.redirect_uri,
                        seconds, concurrency=concurrency, rate=rate)

    def capacity_round(self, pool: ProcessPoolExecutor, args: argparse.Namespace, warmup: float, round_: int) -> None:
        """Warm up for ``warmup`` seconds, then one closed-loop capacity phase of ``args.seconds``, counted alone:
        the servers' CPU, the generator's and, on PostgreSQL, the statements and the cluster's CPU."""
        if warmup > 0:
            pool.submit(generate_load, self.spec(warmup, concurrency=args.concurrency)).result()
        database = self.database
        before: dict[str, int] = {}
        if database is not None:
            statements, database_cpu = -database.statements() - 1, -database.cpu_seconds()
            before = database.calls_by_statement() if args.keep else {}
        cpu_before = _cpu_seconds(self.pids)
        into = self.target.workdir if args.profile else None
        with _profiled(self.pids, into, args.seconds, round_):
            capacity = pool.submit(generate_load, self.spec(args.seconds, concurrency=args.concurrency)).result()
        self.server_cpu_s += _cpu_seconds(self.pids) - cpu_before
        if database is not None:
            self.statements += statements + database.statements()
            self.database_cpu_s += database_cpu + database.cpu_seconds()
            if args.keep and capacity.flows:
                database.write_breakdown(before, capacity.flows, self.target.workdir / f"statements-{round_}.tsv")
        self.flows += capacity.flows
        self.elapsed += capacity.elapsed
        self.errors += capacity.errors
        self.first_error = self.first_error or capacity.first_error
        self.generator_cpu_s += capacity.generator_cpu_s
        self.token_ms += capacity.step_ms.get("token", [])
        self.by_round.append(round(capacity.flows / capacity.elapsed, 1) if capacity.flows else 0.0)

    @property
    def flows_per_s(self) -> float:
        return self.flows / self.elapsed if self.flows else 0.0

    def latency_phase(self, pool: ProcessPoolExecutor, args: argparse.Namespace) -> None:
        """An open loop at half the capacity measured over all rounds, for ``args.seconds``."""
        if self.flows:
            self.latency = pool.submit(generate_load, self.spec(args.seconds, rate=self.flows_per_s / 2)).result()

    def result(self) -> dict[str, Any]:
        """The contender's figures (capacity summed over the rounds)."""
        if not self.flows or self.latency is None:
            return {"error": self.first_error or "no flow completed"}
        latency, flows = self.latency, self.flows
        token_ms = latency.step_ms.get("token", [])
        return {
            "flows_per_s": round(self.flows_per_s, 1),
            "flows_per_s_by_round": self.by_round,
            "errors": self.errors + latency.errors,
            "first_error": self.first_error or latency.first_error or None,
            "rate_at_half_per_s": round(self.flows_per_s / 2, 1),
            "token_p50_ms": round(statistics.median(token_ms), 2) if token_ms else None,
            "token_p99_ms": round(_percentile(token_ms, 0.99), 2) if token_ms else None,
            "step_p50_ms_at_half": {step: round(statistics.median(ms), 2) for step, ms in latency.step_ms.items()},
            "token_p50_ms_at_capacity": round(statistics.median(self.token_ms), 2),
            "server_cpu_ms_per_flow": round(self.server_cpu_s * 1000 / flows, 2),
            "statements_per_flow": None if self.database is None else round(self.statements / flows, 2),
            "database_cpu_ms_per_flow": None if self.database is None else round(self.database_cpu_s * 1000 / flows,
                                                                                 2),
            "generator_cpu_share": round(self.generator_cpu_s / self.elapsed, 2),
            "rss_mb": [_status_mb(pid, "VmRSS") for pid in self.pids],
            "peak_rss_mb": [_status_mb(pid, "VmHWM") for pid in self.pids],
            "processes": len(self.pids),
        }


def measure(contenders: list[Contender], args: argparse.Namespace) -> None:
    """Capacity in ``args.rounds`` interleaved rounds (every contender once per round, the order reversed in every
    other round, so a slower or faster stretch of the machine falls on all of them), then latency at half capacity,
    memory, CPU (and the database's statements and CPU) of each."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        for round_ in range(args.rounds):
            warmup = args.warmup if round_ == 0 else min(args.warmup, _ROUND_WARMUP)
            for contender in contenders if round_ % 2 == 0 else contenders[::-1]:
                contender.capacity_round(pool, args, warmup, round_)
        for contender in contenders:
            contender.latency_phase(pool, args)


@contextlib.contextmanager
def _postgres() -> Iterator[DatabaseProbe]:
    problem = install()
    if problem is not None:
        raise TargetError(problem)
    cluster = Cluster.start(settings=("shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all"))
    try:
        url = cluster.create_database()
        cluster.sql(url, "CREATE EXTENSION pg_stat_statements")
        yield DatabaseProbe(cluster, url)
    finally:
        cluster.stop()


Starter = Callable[[], AbstractContextManager[tuple[Target, DatabaseProbe | None]]]


def _contenders(clients: dict[str, ClientSpec], base: Path) -> list[tuple[str, Starter]]:
    quiet = {"MYNACARD_LOGGING_REQUESTS": "false"}

    @contextlib.contextmanager
    def ours_postgresql() -> Iterator[tuple[Target, DatabaseProbe | None]]:
        with _postgres() as probe, ours(clients, base / "ours-postgresql", workers=WORKERS, database_url=probe.url,
                                        extra_env=quiet) as target:
            yield target, probe

    @contextlib.contextmanager
    def alone(started: AbstractContextManager[Target]) -> Iterator[tuple[Target, DatabaseProbe | None]]:
        with started as target:
            yield target, None

    return [
        ("oidc-provider", lambda: alone(oidc_provider(clients, base / "oidc-provider", processes=WORKERS))),
        ("ours-sqlite", lambda: alone(ours(clients, base / "ours-sqlite", workers=WORKERS, extra_env=quiet))),
        ("ours-postgresql", ours_postgresql),
    ]


def _node_version() -> str | None:
    node = shutil.which("node")
    return subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip() if node \
        else None


def main(argv: list[str]) -> int:
    """Run every contender and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench oidc", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--rounds", type=int, default=3,
                        help="capacity phases per contender, interleaved (1: one phase each, one after the other)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help=f"unmeasured seconds before the first round's capacity phases (later rounds: "
                             f"{_ROUND_WARMUP:g})")
    parser.add_argument("--concurrency", type=int, default=16, help="flows in flight in the capacity phase")
    parser.add_argument("--only", choices=("oidc-provider", "ours-sqlite", "ours-postgresql"), action="append",
                        help="run only this contender (repeatable)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (server logs; on PostgreSQL "
                                                  "statements.tsv: calls per flow of each statement)")
    parser.add_argument("--profile", action="store_true",
                        help="with --keep: sample our workers with py-spy during the capacity phase (py-spy-PID.txt)")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with workdir(args.keep, "bench-oidc-") as base, contextlib.ExitStack() as running:
        clients = standard_clients()
        contenders: list[Contender] = []
        for name, start in _contenders(clients, base):
            if args.only and name not in args.only:
                continue
            (base / name).mkdir(parents=True, exist_ok=True)
            try:
                target, database = running.enter_context(start())
            except TargetError as exc:
                results[name] = {"error": f"did not start: {str(exc)[-600:]}"}
                continue
            contenders.append(Contender(name, target, clients["jwt"], database, _workers(target)))
        measure(contenders, args)
        results.update((contender.name, contender.result()) for contender in contenders)
    reference = results.get("oidc-provider", {}).get("flows_per_s")
    ratios = {name: round(r["flows_per_s"] / reference, 3) for name, r in results.items()
              if name != "oidc-provider" and reference and "flows_per_s" in r}
    reference_rounds = results.get("oidc-provider", {}).get("flows_per_s_by_round", [])
    ratios_by_round = {name: [round(ours_r / ref_r, 3) if ref_r else None
                              for ours_r, ref_r in zip(r["flows_per_s_by_round"], reference_rounds, strict=True)]
                       for name, r in results.items() if name in ratios}
    ours_results = {name: r for name, r in results.items() if name != "oidc-provider"}
    measured = bool(ours_results) and all("flows_per_s" in r for r in ours_results.values())
    output = {
        "bench": "oidc",
        "workers": WORKERS,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "contenders": results,
        "ratio_vs_oidc_provider": ratios,
        "ratio_by_round": ratios_by_round,
        "targets_met": {
            "flows_ge_oidc_provider": measured and len(ratios) == len(ours_results) and min(ratios.values()) >= 1.0,
            "token_p99_lt_50ms": measured and all((r["token_p99_ms"] or 1e9) < 50 for r in ours_results.values()),
            "rss_lt_200mb": measured and all(max(r["rss_mb"]) < 200 for r in ours_results.values()),
        },
        "python": platform.python_version(),
        "node": _node_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": load_at_start,
    }
    print(json.dumps(output))
    return 0 if all("error" not in r for r in results.values()) else 1


__all__ = ["Contender", "LoadResult", "LoadSpec", "generate_load", "main", "measure"]
