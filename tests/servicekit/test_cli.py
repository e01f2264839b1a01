"""The shared commands (``servicekit.cli``) as both services wire them: ``config --docs`` lists every option,
``config`` prints the effective settings (secrets hidden) or every problem with exit status 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import credentials.verifier.cli
import credentials.verifier.settings
import idp.cli
import idp.settings
from keys.service.encryption import KeyEncryptionKeys
from servicekit.settings import SettingsSchema

SERVICES = [
    pytest.param(idp.cli.main, idp.settings.SCHEMA, {"MYNACARD_KEYS_KEKS": KeyEncryptionKeys.generate()}, id="idp"),
    pytest.param(credentials.verifier.cli.main, credentials.verifier.settings.SCHEMA,
                 {"MYNACARD_VERIFIER_TEST_MODE": "1", "MYNACARD_VERIFIER_TRUST_ISSUER_ROOTS_DIR": "/roots",
                  "MYNACARD_VERIFIER_CLIENT_ID_PREFIX": "redirect_uri",
                  "MYNACARD_VERIFIER_KEYS_KEKS": KeyEncryptionKeys.generate()}, id="verifier"),
]


def _clear(monkeypatch: pytest.MonkeyPatch, schema: SettingsSchema[Any], environ: dict[str, str]) -> None:
    import os

    for name in list(os.environ):
        if name.startswith(schema.env_prefix):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(("main", "schema", "environ"), SERVICES)
def test_config_docs_lists_every_option(main: Callable[[list[str]], int], schema: SettingsSchema[Any],
                                        environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--docs"]) == 0
    table = capsys.readouterr().out
    for opt in schema.iter_options():
        assert f"| `{opt.key}` | `{opt.env}` |" in table
    assert table.count("\n| `") == len(schema.options)


@pytest.mark.parametrize(("main", "schema", "environ"), SERVICES)
def test_config_shows_effective_settings_or_problems(main: Callable[[list[str]], int], schema: SettingsSchema[Any],
                                                      environ: dict[str, str], capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _clear(monkeypatch, schema, environ)
    monkeypatch.setenv(schema.env_name("data_dir"), str(tmp_path))
    assert main(["config"]) == 0
    out, err = capsys.readouterr()
    shown = json.loads(out)
    assert set(shown) == {o.key for o in schema.options}
    assert shown["keys.keks"] == "(set)"
    assert all(value not in out for value in environ.values() if len(value) > 20)
    assert "warning: " in err  # the development defaults are unsafe
    monkeypatch.setenv(schema.env_name("server.port"), "eighty")
    assert main(["config"]) == 2
    assert f"{schema.env_name('server.port')}: expected an integer" in capsys.readouterr().err
