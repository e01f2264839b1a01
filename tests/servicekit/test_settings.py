"""The one settings engine (``servicekit.settings``), on a small settings class of its own: parsing, file and
environment, every problem at once, renamed settings, unknown variables, secrets never shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servicekit.settings import (
    LoggingSettings,
    Secret,
    ServerSettings,
    SettingsError,
    SettingsSchema,
    option,
    parse_bool,
    parse_duration,
    parse_int,
    parse_strings,
)

SECRET = "s3cret-value-never-shown"


@dataclass(frozen=True, slots=True)
class CardSection:
    trust_dir: str = option("", doc="Roots.")
    offset: int = option(0, doc="An integer that may be negative.")
    token: Secret = option(Secret(""), doc="A secret.")  # noqa: RUF009 (Secret is immutable)


@dataclass(frozen=True, slots=True)
class Demo:
    data_dir: str = option("var", doc="Data.", recommend="Somewhere safe.")
    ttl: float = option(60.0, doc="A duration.")
    test_mode: bool = option(False, doc="Test mode.")
    names: tuple[str, ...] = option(("a",), doc="Names.")
    server: ServerSettings = field(default_factory=ServerSettings)
    card_login: CardSection = field(default_factory=CardSection)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


def _check(settings: Demo) -> list[str]:
    return [*settings.server.problems(), *settings.logging.problems()]


SCHEMA = SettingsSchema(Demo, env_prefix="DEMO_", config_env="DEMO_CONFIG",
                        renamed={"log_level": "logging.level", "card_login.roots": "card_login.trust_dir",
                                 "cardlogin.trust_dir": "card_login.trust_dir"},
                        check=_check)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (1.5, 1.5), ("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("12h", 43200.0), ("30d", 2592000.0),
    (" 2.5 m ", 150.0),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["1w", "-5", "m", "", True, None, [1]])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="expected seconds"):
        parse_duration(value)


def test_booleans_integers_and_lists() -> None:
    assert [parse_bool(v) for v in (True, "1", "true", "Yes", " on ")] == [True] * 5
    assert [parse_bool(v) for v in (False, "0", "false", "NO", "off")] == [False] * 5
    for bad in ("maybe", "", 1, None):
        with pytest.raises(ValueError, match="expected true or false"):
            parse_bool(bad)
    assert [parse_int(v) for v in (7, "7", " -3 ", -3)] == [7, 7, -3, -3]
    for bad in ("eighty", "1.5", "--1", True, 1.0):
        with pytest.raises(ValueError, match="expected an integer"):
            parse_int(bad)
    assert parse_strings("ES256, RS256,,") == ("ES256", "RS256")
    assert parse_strings(["x", "y"]) == ("x", "y")
    with pytest.raises(ValueError, match="expected a list of strings"):
        parse_strings([1])


def test_variables_follow_the_keys_even_with_underscores_in_section_names() -> None:
    envs = {o.key: o.env for o in SCHEMA.iter_options()}
    assert envs["card_login.trust_dir"] == "DEMO_CARD_LOGIN_TRUST_DIR"
    assert envs["data_dir"] == "DEMO_DATA_DIR"
    assert envs["logging.level"] == "DEMO_LOGGING_LEVEL"
    assert len(set(envs.values())) == len(envs)


def test_file_then_environment(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'ttl = "15m"\nnames = ["x", "y"]\n[server]\nport = 9000\n[card_login]\noffset = -2\n')
    settings = SCHEMA.load(config, environ={"DEMO_SERVER_PORT": "9100", "DEMO_TEST_MODE": "yes",
                                            "DEMO_CARD_LOGIN_TRUST_DIR": "/roots"})
    assert (settings.ttl, settings.names, settings.server.port) == (900.0, ("x", "y"), 9100)
    assert settings.test_mode is True
    assert settings.card_login == CardSection(trust_dir="/roots", offset=-2)
    assert SCHEMA.load(environ={"DEMO_CONFIG": str(config)}).server.port == 9000
    assert SCHEMA.load(environ={"DEMO_CARD_LOGIN_OFFSET": "-7"}).card_login.offset == -7  # negatives parse


def test_every_problem_at_once(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'dta_dir = "typo"\nserver = 1\nlogging = "INFO"\n[card_login]\ntrust = "x"\n'
                             'offset = "many"\n[serverx]\nport = 1\n')
    with pytest.raises(SettingsError) as caught:
        SCHEMA.load(config, environ={"DEMO_TTL": "1w", "DEMO_TEST_MODE": "maybe"})
    assert caught.value.problems == [
        "server: must be a table",
        "logging: must be a table",
        "dta_dir: unknown setting",
        "card_login.trust: unknown setting",
        "serverx: unknown setting",
        "DEMO_TTL: expected seconds or a number with unit s, m, h or d",
        "DEMO_TEST_MODE: expected true or false",
        "card_login.offset: expected an integer",
    ]
    assert str(caught.value).startswith("invalid configuration:\n  server: must be a table\n  ")


def test_checks_run_after_parsing() -> None:
    with pytest.raises(SettingsError) as caught:
        SCHEMA.load(environ={"DEMO_SERVER_PORT": "0", "DEMO_SERVER_WORKERS": "-1", "DEMO_LOGGING_LEVEL": "LOUD"})
    assert caught.value.problems == ["server.port: must be 1-65535", "server.workers: must be at least 1",
                                     "logging.level: one of DEBUG, INFO, WARNING, ERROR"]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the configuration file"):
        SCHEMA.load(_toml(tmp_path, "[server\n"), environ={})
    with pytest.raises(SettingsError, match="cannot read the configuration file"):
        SCHEMA.load(tmp_path / "absent.toml", environ={})


def test_renamed_settings_fail_naming_the_new_ones(tmp_path: Path) -> None:
    config = _toml(tmp_path, 'log_level = "DEBUG"\n[card_login]\nroots = "/r"\n[cardlogin]\ntrust_dir = "/r"\n')
    with pytest.raises(SettingsError) as caught:
        SCHEMA.load(config, environ={"DEMO_LOG_LEVEL": "DEBUG"})
    assert caught.value.problems == [
        "log_level: renamed to logging.level (environment variable DEMO_LOGGING_LEVEL)",
        "card_login.roots: renamed to card_login.trust_dir (environment variable DEMO_CARD_LOGIN_TRUST_DIR)",
        "cardlogin.trust_dir: renamed to card_login.trust_dir (environment variable DEMO_CARD_LOGIN_TRUST_DIR)",
        "DEMO_LOG_LEVEL: renamed to DEMO_LOGGING_LEVEL (logging.level)",
    ]
    with pytest.raises(ValueError, match="renamed to unknown settings: nowhere"):
        SettingsSchema(Demo, env_prefix="DEMO_", config_env="DEMO_CONFIG", renamed={"old": "nowhere"})
    with pytest.raises(ValueError, match="still in use"):
        SettingsSchema(Demo, env_prefix="DEMO_", config_env="DEMO_CONFIG", renamed={"card.login_trust_dir": "ttl"})


def test_unknown_variables() -> None:
    environ = {"DEMO_SERVE_PORT": "1", "DEMO_CONFIG": "x", "DEMO_TTL": "1", "DEMO_LOG_LEVEL": "INFO",
               "OTHER_TTL": "1", "DEMO_AAA": "1"}
    assert SCHEMA.unknown_variables(environ) == ["DEMO_AAA", "DEMO_SERVE_PORT"]


def test_secrets_are_never_shown() -> None:
    settings = SCHEMA.load(environ={"DEMO_CARD_LOGIN_TOKEN": SECRET})
    assert settings.card_login.token.reveal() == SECRET
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.card_login.token)
    assert str(Secret("x")) == repr(Secret("x")) == "Secret('********')"
    assert repr(Secret("")) == "Secret('')"
    assert not Secret("")
    assert Secret("a") == Secret("a") != Secret("b")
    assert SCHEMA.effective(settings)["card_login.token"] == "(set)"
    assert SCHEMA.effective(SCHEMA.load(environ={}))["card_login.token"] == "(unset)"
    assert SECRET not in str(SCHEMA.effective(settings))

    @dataclass(frozen=True, slots=True)
    class WithDefaultSecret:
        token: Secret = option(Secret(SECRET), doc="A secret with a default.")  # noqa: RUF009

    table = SettingsSchema(WithDefaultSecret, env_prefix="X_", config_env="X_CONFIG").describe()
    assert SECRET not in table
    assert "(secret)" in table


def test_describe_lists_every_option() -> None:
    table = SCHEMA.describe().splitlines()
    assert table[0] == "| option | environment | default | description | recommendation |"
    assert "| `data_dir` | `DEMO_DATA_DIR` | 'var' | Data. | Somewhere safe. |" in table
    assert "| `names` | `DEMO_NAMES` | a | Names. |  |" in table
    assert "| `card_login.token` | `DEMO_CARD_LOGIN_TOKEN` | (unset) | A secret. |  |" in table
    assert len(table) == 2 + len(SCHEMA.options)


def test_an_option_without_a_parser_is_refused() -> None:
    @dataclass(frozen=True, slots=True)
    class Odd:
        ratio: complex = option(1j, doc="No parser for this.")

    with pytest.raises(TypeError, match="no parser"):
        SettingsSchema(Odd, env_prefix="ODD_", config_env="ODD_CONFIG")
