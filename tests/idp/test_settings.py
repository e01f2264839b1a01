"""The provider's settings: defaults, names, its cross-field checks and unsafe-default warnings (the engine itself is
tested in tests/servicekit/test_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.settings import SettingsError, describe, iter_options, load_settings, unsafe_warnings
from keys.service.encryption import KeyEncryptionKeys

KEK = KeyEncryptionKeys.generate()


def test_defaults_are_the_embedded_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.issuer == "http://127.0.0.1:8000"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'idp.sqlite3'}"
    assert settings.keys.algorithms == ("ES256", "PS256", "RS256")
    assert settings.key_retention == 3600 + 15
    assert not settings.test_mode


def test_every_option_is_documented_with_a_unique_variable() -> None:
    options = list(iter_options())
    assert len(options) > 20
    assert all(o.doc for o in options)
    assert len({o.env for o in options}) == len(options)
    docs = describe()
    assert all(f"`{o.env}`" in docs and f"`{o.key}`" in docs for o in options)
    assert "MYNACARD_KEYS_PUBLISH_LEAD" in {o.env for o in options}


def test_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "idp.toml"
    config.write_text('issuer = "https://id.example.jp"\n[server]\nport = 9000\nworkers = 4\n'
                      '[keys]\nalgorithms = ["ES256", "PS256"]\nrotation_interval = "14d"\npublish_lead = "2h"\n'
                      '[logging]\nrequests = false\n')
    settings = load_settings(config, environ={"MYNACARD_SERVER_PORT": "9100", "MYNACARD_KEYS_CACHE_TTL": "90s",
                                              "MYNACARD_DATABASE_URL": "postgresql://u:pw@db/idp"})
    assert (settings.issuer, settings.server.port, settings.server.workers) == ("https://id.example.jp", 9100, 4)
    assert settings.keys.algorithms == ("ES256", "PS256")
    assert (settings.keys.rotation_interval, settings.keys.publish_lead, settings.keys.cache_ttl) == (
        14 * 86400, 7200, 90)
    assert settings.logging.requests is False
    assert settings.database_url == "postgresql+asyncpg://u:pw@db/idp"
    assert settings.keys.keks.reveal() == ""
    assert "pw" not in repr(settings)
    config_env = load_settings(environ={"MYNACARD_CONFIG": str(config)})
    assert config_env.server.port == 9000


@pytest.mark.parametrize(("environ", "problem"), [
    ({"MYNACARD_ISSUER": "https://id.example.jp/tenant"}, "issuer: scheme, host and port only"),
    ({"MYNACARD_ISSUER": "http://id.example.jp"}, "issuer: http is allowed only for loopback"),
    ({"MYNACARD_ISSUER": "id.example.jp"}, "issuer: must be an absolute https URL"),
    ({"MYNACARD_SERVER_WORKERS": "0"}, "server.workers"),
    ({"MYNACARD_SERVER_PORT": "-1"}, "server.port: must be 1-65535"),
    ({"MYNACARD_CLEANUP_BATCH_SIZE": "-5"}, "cleanup.batch_size"),
    ({"MYNACARD_CREDENTIALS_TX_CODE_ATTEMPTS": "-1"}, "credentials.tx_code_attempts"),
    ({"MYNACARD_DATABASE_URL": "mysql://db/idp"}, "database.url"),
    ({"MYNACARD_DATABASE_POOL_SIZE": "0"}, "database.pool_size"),
    ({"MYNACARD_TEST_CLOCK_OFFSET_FILE": "/tmp/offset"}, "test_clock_offset_file: test mode only"),
    ({"MYNACARD_KEYS_ALGORITHMS": "PS256"}, "including ES256"),
    ({"MYNACARD_KEYS_ALGORITHMS": "ES256,HS256"}, "keys.algorithms"),
    ({"MYNACARD_KEYS_BACKEND": "pkcs11"}, "required by the pkcs11 backend"),
    ({"MYNACARD_KEYS_BACKEND": "vault"}, "keys.backend"),
    ({"MYNACARD_KEYS_KEKS": KEK, "MYNACARD_KEYS_KEK_FILE": "/k"}, "set one, not both"),
    ({"MYNACARD_KEYS_JWKS_MAX_AGE": "2d"}, "keys.publish_lead: must be at least"),
    ({"MYNACARD_KEYS_ROTATION_INTERVAL": "1d"}, "keys.rotation_interval: must be longer"),
    ({"MYNACARD_TOKENS_ID_TOKEN_TTL": "0"}, "tokens.id_token_ttl"),
    ({"MYNACARD_CLEANUP_BATCH_SIZE": "0"}, "cleanup.batch_size"),
    ({"MYNACARD_LOGGING_LEVEL": "LOUD"}, "logging.level"),
    ({"MYNACARD_AUTHORIZATION_KIOSK_HOME": "kiosk/start"}, "authorization.kiosk_home"),
    ({"MYNACARD_AUTHORIZATION_KIOSK_HOME": "javascript:alert(1)"}, "authorization.kiosk_home"),
])
def test_invalid_settings_are_refused(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ=environ)
    assert any(p.startswith(problem) or problem in p for p in caught.value.problems), caught.value.problems


def test_unsafe_defaults_warn_and_safe_settings_do_not() -> None:
    defaults = load_settings(environ={})
    warnings = unsafe_warnings(defaults, {"MYNACARD_SERVE_PORT": "1", "MYNACARD_VERIFIER_BASE_URL": "https://v"})
    assert any("uses http" in w for w in warnings)
    assert any("development KEK" in w for w in warnings)
    assert "unknown environment variable MYNACARD_SERVE_PORT ignored" in warnings
    assert not any("MYNACARD_VERIFIER_" in w for w in warnings)  # the verifier service's, not a typo of ours
    test_mode = load_settings(environ={"MYNACARD_TEST_MODE": "1"})
    assert any("test mode" in w for w in unsafe_warnings(test_mode, {}))
    safe = {"MYNACARD_ISSUER": "https://id.example.jp", "MYNACARD_KEYS_KEKS": KEK,
            "MYNACARD_AUTHORIZATION_PAIRWISE_SALT": "a-long-random-deployment-salt-0123456789",
            "MYNACARD_CREDENTIALS_CA_CERTIFICATES": "/etc/mynacard/vc-ca.pem",
            "MYNACARD_CREDENTIALS_CA_KEY": "/etc/mynacard/vc-ca.key"}
    assert unsafe_warnings(load_settings(environ=safe), safe) == []


def test_secrets_stay_hidden() -> None:
    settings = load_settings(environ={"MYNACARD_KEYS_KEKS": KEK, "MYNACARD_KEYS_PKCS11_PIN": "4321"})
    assert settings.keys.keks.reveal() == KEK
    assert KEK not in repr(settings)
    assert "4321" not in repr(settings)
    assert "4321" not in describe()


def test_todays_names_keep_working(tmp_path: Path) -> None:
    """Sections with an underscore and the shared sections (server, logging, the KEK options of [keys])."""
    kek_file = tmp_path / "keks"
    settings = load_settings(environ={"MYNACARD_CARD_LOGIN_TRUST_DIR": "/roots", "MYNACARD_LOGGING_LEVEL": "DEBUG",
                                      "MYNACARD_LOGGING_REQUESTS": "off", "MYNACARD_KEYS_KEK_FILE": str(kek_file),
                                      "MYNACARD_SERVER_HOST": "0.0.0.0", "MYNACARD_KEYS_ALGORITHMS": "ES256, RS256",
                                      "MYNACARD_TEST_MODE": "yes", "MYNACARD_ISSUER": "http://op.test"})
    assert settings.card_login.trust_dir == "/roots"
    assert (settings.logging.level, settings.logging.requests) == ("DEBUG", False)
    assert settings.keys.kek_file == str(kek_file)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 8000)
    assert settings.keys.algorithms == ("ES256", "RS256")
    assert settings.test_mode
