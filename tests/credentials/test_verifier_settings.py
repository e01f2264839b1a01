"""``credentials.verifier.settings``: the service's sections and checks, the environment wins over the file,
secrets never show, every option is documented, and the renamed ``log_level`` fails naming ``logging.level``
(the engine itself is tested in tests/servicekit/test_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from credentials.verifier.settings import SettingsError, describe, iter_options, load_settings, unsafe_warnings

KEY = "k" * 40


def test_production_needs_its_settings(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(environ={})
    problems = "\n".join(info.value.problems)
    assert "trust.issuer_roots_dir: required" in problems
    assert "rp.api_keys: required outside test mode" in problems
    assert "client.signing_key_file" in problems  # x509_hash is the default prefix


def test_file_environment_and_checks(tmp_path: Path) -> None:
    config = tmp_path / "verifier.toml"
    config.write_text(f"""
base_url = "https://verifier.example.jp"
[client]
id_prefix = "x509_san_dns"
dns_name = "other.example.jp"
signing_key_file = "k.pem"
certificate_chain_file = "c.pem"
[trust]
issuer_roots_dir = "{tmp_path}"
issuer_root_pins = ["ABC"]
[rp]
api_keys = "{KEY}"
[presentation]
request_ttl = "5m"
""", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config, environ={})
    problems = "\n".join(info.value.problems)
    assert "client.dns_name" in problems
    assert "issuer_root_pins" in problems
    pin = "0" * 64
    settings = load_settings(config, environ={"MYNACARD_VERIFIER_CLIENT_DNS_NAME": "verifier.example.jp",
                                              "MYNACARD_VERIFIER_TRUST_ISSUER_ROOT_PINS": pin})
    assert settings.client.dns_name == "verifier.example.jp"
    assert settings.trust.issuer_root_pins == (pin,)
    assert settings.presentation.request_ttl == 300
    assert settings.api_keys == (KEY,)
    assert KEY not in repr(settings)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    warnings = unsafe_warnings(settings, environ={"MYNACARD_VERIFIER_TYPO": "1"})
    assert "unknown environment variable MYNACARD_VERIFIER_TYPO ignored" in warnings
    with pytest.raises(SettingsError, match="SERVER_PORT: expected an integer"):
        load_settings(environ={"MYNACARD_VERIFIER_CONFIG": str(config), "MYNACARD_VERIFIER_SERVER_PORT": "x"})
    typo = tmp_path / "typo.toml"
    typo.write_text("[server]\nprot = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"server\.prot: unknown setting"):
        load_settings(typo, environ={})


def test_every_option_is_documented() -> None:
    options = list(iter_options())
    assert all(o.doc for o in options)
    assert len({o.env for o in options}) == len(options)
    table = describe()
    assert all(f"`{o.key}`" in table and f"`{o.env}`" in table for o in options)
    assert "MYNACARD_VERIFIER_LOGGING_LEVEL" in {o.env for o in options}


TEST_MODE = {"MYNACARD_VERIFIER_TEST_MODE": "1", "MYNACARD_VERIFIER_TRUST_ISSUER_ROOTS_DIR": "/roots",
             "MYNACARD_VERIFIER_CLIENT_ID_PREFIX": "redirect_uri"}


def test_logging_level_replaces_log_level(tmp_path: Path) -> None:
    settings = load_settings(environ={**TEST_MODE, "MYNACARD_VERIFIER_LOGGING_LEVEL": "DEBUG"})
    assert settings.logging.level == "DEBUG"
    with pytest.raises(SettingsError) as info:
        load_settings(environ={**TEST_MODE, "MYNACARD_VERIFIER_LOG_LEVEL": "DEBUG"})
    assert info.value.problems == [
        "MYNACARD_VERIFIER_LOG_LEVEL: renamed to MYNACARD_VERIFIER_LOGGING_LEVEL (logging.level)"]
    config = tmp_path / "verifier.toml"
    config.write_text('log_level = "DEBUG"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config, environ=TEST_MODE)
    assert info.value.problems == [
        "log_level: renamed to logging.level (environment variable MYNACARD_VERIFIER_LOGGING_LEVEL)"]
    with pytest.raises(SettingsError, match=r"logging\.level: one of DEBUG"):
        load_settings(environ={**TEST_MODE, "MYNACARD_VERIFIER_LOGGING_LEVEL": "LOUD"})


def test_shared_sections_keep_their_names_and_checks() -> None:
    settings = load_settings(environ={**TEST_MODE, "MYNACARD_VERIFIER_KEYS_KEK_FILE": "/keks",
                                      "MYNACARD_VERIFIER_SERVER_WORKERS": "3"})
    assert (settings.keys.kek_file, settings.server.port, settings.server.workers) == ("/keks", 8100, 3)
    assert any("development KEK" in w for w in unsafe_warnings(load_settings(environ=TEST_MODE), {}))
    with pytest.raises(SettingsError) as info:
        load_settings(environ={**TEST_MODE, "MYNACARD_VERIFIER_SERVER_PORT": "-1",
                               "MYNACARD_VERIFIER_SERVER_WORKERS": "0",
                               "MYNACARD_VERIFIER_KEYS_KEKS": "k", "MYNACARD_VERIFIER_KEYS_KEK_FILE": "/keks"})
    assert info.value.problems == ["keys.keks and keys.kek_file: set one, not both", "server.port: must be 1-65535",
                                   "server.workers: must be at least 1"]
