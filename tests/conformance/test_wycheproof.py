"""The Wycheproof runner: every vector file through our core with zero failures, and a runner that can fail."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.__main__ import main as conformance_main
from conformance.wycheproof import DEVIATIONS, main, run_file, vector_files
from tests.support import vectors

ROOT = vectors.wycheproof_root()
FILES = vector_files(ROOT) if ROOT.is_dir() else []
pytestmark = pytest.mark.skipif(not FILES, reason=vectors.missing("wycheproof"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_vector_file(path: Path) -> None:
    result = run_file(path)
    assert result.failed == 0, "\n".join(result.failures[:20])
    expected_deviations = sum(1 for name, _ in DEVIATIONS if name == path.name)
    assert len(result.deviations) == expected_deviations
    assert result.passed > 0


def test_acceptable_cases_are_refused_by_policy() -> None:
    """The 53 'acceptable' cases (MissingNull, 1024-bit, SHA-1, e = 3) are all rejected, most by policy."""
    by_name = {p.name: p for p in FILES}
    small = run_file(by_name["rsa_pkcs1_1024_sig_gen_test.json"])
    expected = {"SHA-1 is not allowed": 8, "SHA-224 is not allowed": 8, "RSA key below 2048 bits": 17}
    assert dict(small.refused) == expected
    e3 = run_file(by_name["rsa_pkcs1_2048_sig_gen_test.json"])
    assert e3.refused["RSA public exponent below 65537"] == 3


def _copy(src: Path, dst: Path, mutate: object = None) -> None:
    data = json.loads(src.read_text(encoding="utf-8"))
    if callable(mutate):
        mutate(data)
    dst.write_text(json.dumps(data), encoding="utf-8")


def test_command_line_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("ed448_test.json", "json_web_crypto_test.json"):
        _copy(ROOT / name, tmp_path / name)
    assert conformance_main(["wycheproof", "--vectors", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ed448_test.json: 87 passed, 0 failed"
    assert "skipped: 34" in lines
    assert re.fullmatch(r"wycheproof: \d+ passed, 0 failed", lines[-1])


def test_a_wrong_verdict_and_a_crash_are_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def corrupt(data: dict[str, object]) -> None:
        tests = data["testGroups"][0]["tests"]  # type: ignore[index]
        valid = next(t for t in tests if t["result"] == "valid")
        valid["result"] = "invalid"  # our core verifies it: a wrong verdict
        tests[1]["sig"] = "zz"  # not hex: the case crashes

    _copy(ROOT / "ed25519_test.json", tmp_path / "ed25519_test.json", corrupt)
    assert main(["--vectors", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "wycheproof: 149 passed, 2 failed"
    assert "crashed with ValueError" in out


def test_no_vectors_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--vectors", str(tmp_path)]) == 2
    assert "no vector files" in capsys.readouterr().out
