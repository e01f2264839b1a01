"""``python -m conformance oidc`` as a separate process: openid-client and idpyoidc against npm oidc-provider (the
harness's own proof, fast) and against our provider (``idp serve``; every scenario must pass), once more with the
real card login in the loop (``--target ours-card``)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cardreader.virtual.lab import VPCD_DRIVER
from conformance import oidc_card, oidc_idpy, oidc_scenarios
from conformance.oidc_browser import parse_forms

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = len(oidc_scenarios.SCENARIOS) + len(oidc_idpy.SCENARIOS)
needs_node = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="needs Node and npm")


def run_harness(target: str) -> tuple[list[str], int]:
    result = subprocess.run([sys.executable, "-m", "conformance", "oidc", "--target", target], cwd=ROOT,
                            capture_output=True, text=True, timeout=600, check=False)
    lines = result.stdout.splitlines()
    assert lines, result.stderr[-2000:]
    return lines, result.returncode


def failures(lines: list[str]) -> str:
    return "\n".join(line for line in lines if not line.startswith("PASS"))


@needs_node
def test_harness_passes_against_oidc_provider() -> None:
    lines, code = run_harness("oidc-provider")
    assert lines[-1] == f"oidc: {SCENARIOS} passed, 0 failed", failures(lines)
    assert code == 0
    assert all(re.match(r"^PASS \[oidc-provider\] [^:]+: .+", line) for line in lines[:-1])
    assert any(line.startswith("PASS [oidc-provider] Basic AuthCodeReuse:") for line in lines)


@needs_node
@pytest.mark.slow
def test_our_provider_passes_every_scenario() -> None:
    lines, code = run_harness("ours")
    assert lines[-1] == f"oidc: {SCENARIOS} passed, 0 failed", "our provider failed:\n" + failures(lines)
    assert code == 0


@needs_node
@pytest.mark.slow
@pytest.mark.pcsc
def test_openid_client_with_the_real_card_login_in_the_loop() -> None:
    """openid-client against our provider whose logins are card logins: the virtual card in a private pcscd, the
    card agent, the PIN typed into its PIN pad."""
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists():
        pytest.skip("needs pcscd and vsmartcard-vpcd")
    lines, code = run_harness("ours-card")
    assert lines[-1] == f"oidc: {len(oidc_card.SCENARIOS)} passed, 0 failed", "card login failed:\n" + failures(lines)
    assert code == 0
    assert any("signing certificate, facts after consent" in line for line in lines)


def test_forms_are_read_like_a_browser() -> None:
    # node-oidc-provider's logout page puts its submit buttons outside the form, naming it with form=
    page = ('<form id="op.logoutForm" method="post" action="/session/end/confirm"><input type="hidden" name="xsrf" '
            'value="x1"></form><button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes'
            '</button><button type="submit" form="op.logoutForm">No</button>')
    (form,) = parse_forms(page)
    assert (form.action, form.method, form.fields, form.submit) == ("/session/end/confirm", "post",
                                                                    [("xsrf", "x1")], ("logout", "yes"))
    consent = parse_forms('<p><input name="outside"></p><form method="post"><input type="checkbox" name="claims" '
                          'value="name"><input type="radio" name="r" value="a"><input type="radio" name="r" value="b" '
                          'checked><textarea name="empty"></textarea><textarea name="t">a\nb</textarea>'
                          '<input type="submit" value="Allow"></form>')
    assert consent[0].fields == [("claims", "name"), ("r", "b"), ("empty", ""), ("t", "a\nb")]
    assert consent[0].has_submit
    assert consent[0].submit is None
