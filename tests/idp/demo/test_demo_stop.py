"""``idp demo`` (what ``./dev serve`` runs) stopped by SIGTERM — as a service manager or ``timeout`` stops it — once
running and half-way through starting: every process it started (pcscd, the virtual card, the provider, the agent)
is gone afterwards, checked by PID."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.idp.demo.test_demo import _demo


def _descendants(pid: int) -> dict[int, str]:
    """The living descendants of ``pid``: PID -> command line (from /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def _until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"idp demo stopped before {what}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _stop_and_check(process: subprocess.Popen[str], started: dict[int, str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    left = {pid: command for pid, command in started.items() if _alive(pid)}
    assert not left, f"processes of the demo survived SIGTERM: {left}"
    assert process.returncode == 0, output
    return output


@pytest.mark.pcsc
def test_sigterm_stops_every_process_of_the_running_demo(tmp_path: Path) -> None:
    process, _, rp_port, agent_port = _demo(tmp_path)
    try:
        _until(lambda: _answers(f"http://127.0.0.1:{rp_port}/"), process, "the relying party answered")
        _until(lambda: _answers(f"http://127.0.0.1:{agent_port}/healthz")
               or any("cardreader agent" in c for c in _descendants(process.pid).values()), process,
               "the agent started")
        started = _descendants(process.pid)
        commands = " | ".join(started.values())
        for part in ("pcscd", "virtual-card", "idp serve", "cardreader agent"):
            assert part in commands, f"{part} is not among the demo's processes: {commands}"
    except BaseException:
        process.kill()
        raise
    output = _stop_and_check(process, started)
    assert "stopped" in output
    assert "Warning" not in output, output
    assert "Traceback" not in output, output


@pytest.mark.pcsc
def test_sigterm_half_way_through_starting_stops_what_was_started(tmp_path: Path) -> None:
    """SIGTERM once the provider process exists, before it answers and before the agent starts."""
    process, *_ = _demo(tmp_path)
    try:
        _until(lambda: any("idp serve" in c for c in _descendants(process.pid).values()), process,
               "the provider started")
        started = _descendants(process.pid)
        assert any("pcscd" in c for c in started.values()), started
    except BaseException:
        process.kill()
        raise
    _stop_and_check(process, started)
