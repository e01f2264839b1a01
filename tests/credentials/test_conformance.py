"""``python -m conformance vc`` passes every case and closes with the agreed line; its data files name their
sources."""

from __future__ import annotations

import re

import pytest

from conformance import vc
from conformance.__main__ import SUITES


def test_suite_is_registered() -> None:
    assert SUITES["vc"] == "conformance.vc"


def test_suite_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert vc.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"vc: \d+ passed, 0 failed", lines[-1])
    assert not [line for line in lines if line.startswith("FAIL")]
    assert int(lines[-1].split()[1]) >= 30


def test_a_failing_case_fails_the_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken() -> None:
        raise AssertionError("deliberately broken")

    monkeypatch.setattr(vc, "cases", lambda: iter([("broken", broken)]))
    assert vc.main([]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "vc: 0 passed, 1 failed"


@pytest.mark.parametrize("name", ["sd_jwt.json", "sd_jwt_vc.json", "status_list.json"])
def test_data_files_cite_their_source(name: str) -> None:
    data = vc.load(name)
    assert re.search(r"commit [0-9a-f]{40}", data["source"])
