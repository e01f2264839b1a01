"""The settings engine of both services: typed options on frozen dataclasses, read from a TOML file and from
environment variables, checked together, documented in one place.

A service declares its settings as a root frozen dataclass: top-level options (fields made with :func:`option`)
and sections (fields whose type is another such dataclass, one TOML table each). A :class:`SettingsSchema` built
over that root reads the TOML file (``config`` or ``$CONFIG_ENV``) and the environment, which wins over the
file: the variable of ``[section] name`` is ``PREFIX_SECTION_NAME`` (``PREFIX_NAME`` for top-level options).
Every problem is reported at once (:class:`SettingsError`); then the service's cross-field ``check`` runs.
Secrets (:class:`Secret`) never show in ``repr``, ``str``, :meth:`SettingsSchema.describe` or
:meth:`SettingsSchema.effective`. A renamed setting fails at start with a message naming its new name.

Durations are seconds, written as numbers or with a unit: ``90``, ``"15m"``, ``"12h"``, ``"30d"``. Integers may
be negative here; each service's ``check`` refuses them where they make no sense.

Usage::

    @dataclass(frozen=True, slots=True)
    class Settings:
        data_dir: str = option("var", doc="Directory for the embedded database.")
        logging: LoggingSettings = field(default_factory=LoggingSettings)

    SCHEMA = SettingsSchema(Settings, env_prefix="MYNACARD_", config_env="MYNACARD_CONFIG",
                            renamed={"log_level": "logging.level"}, check=lambda s: s.logging.problems())
    settings = SCHEMA.load(Path("idp.toml"))       # MYNACARD_LOGGING_LEVEL=DEBUG wins over the file
    print(SCHEMA.describe())                        # the Markdown table of `config --docs`

Why not pydantic-settings (the issue's suggestion): today's variable names must keep working, and they join
section and option with ``_`` although section names contain ``_`` themselves (``MYNACARD_CARD_LOGIN_TRUST_DIR``
is ``[card_login] trust_dir``). pydantic-settings splits nested variables on ``env_nested_delimiter``; with
``"_"`` that is ambiguous, and ``env_nested_max_split=1`` splits at the first ``_`` (``card`` /
``login_trust_dir``), so every such option would need a hand-written alias or a custom source, which is most of
this module again. It would also add pydantic and pydantic-core as run-time dependencies for what ~250 lines of
standard library (``tomllib``, ``dataclasses``) do, and its error messages would need rewriting to keep today's
``KEY: problem`` lines.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, Protocol, TypeVar

T = TypeVar("T")
S = TypeVar("S")

LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_INTEGER = re.compile(r"^\s*-?\d+\s*$")
_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_BOOLEANS: Final = {"1": True, "true": True, "yes": True, "on": True,
                    "0": False, "false": False, "no": False, "off": False}


class SettingsError(Exception):
    """The configuration is invalid; ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


class Secret:
    """A secret setting: its repr and str never show the value; :meth:`reveal` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def option(default: T, *, doc: str, recommend: str = "") -> T:
    """Declare a setting: its default, what it does, and what production should use."""
    return field(default=default, metadata={"doc": doc, "recommend": recommend})


def secret_option(*, doc: str, recommend: str = "") -> Secret:
    """Declare a secret setting, empty by default (immutable, so ruff is told: ``extend-immutable-calls``)."""
    return option(Secret(""), doc=doc, recommend=recommend)


# -- sections both services have ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``[server]``: where ``serve`` listens. A service subclasses it to give its own port."""

    host: str = option("127.0.0.1", doc="Address to listen on.",
                       recommend="Keep loopback and put a TLS-terminating reverse proxy in front.")
    port: int = option(8000, doc="TCP port to listen on.")
    workers: int = option(1, doc="Worker processes. They share nothing but the database, so any worker can "
                                 "answer any request.",
                          recommend="One per core; PostgreSQL when several machines serve the same URL.")

    def problems(self) -> list[str]:
        """What is wrong with these values (empty when valid)."""
        problems = []
        if not 1 <= self.port <= 65535:
            problems.append("server.port: must be 1-65535")
        if self.workers < 1:
            problems.append("server.workers: must be at least 1")
        return problems


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    """``[logging]``: JSON lines on standard error (:mod:`servicekit.logs`; no personal data, no secrets)."""

    level: str = option("INFO", doc="DEBUG, INFO, WARNING or ERROR.")

    def problems(self) -> list[str]:
        """What is wrong with these values (empty when valid)."""
        return [] if self.level in LOG_LEVELS else [f"logging.level: one of {', '.join(LOG_LEVELS)}"]


class _DatabaseSection(Protocol):
    @property
    def url(self) -> Secret: ...


class DataLocation:
    """Mixin of a service's root settings: its ``data_dir`` option as a path, and the SQLAlchemy URL of its
    ``[database] url`` secret, or of the embedded SQLite file in the data directory when none is set.

    The root names the file (``SQLITE_FILE``), the SQLite scheme it is opened with (``SQLITE_SCHEME``) and the
    schemes that stand for a driver's (``SCHEME_ALIASES``: ``postgresql`` -> ``postgresql+asyncpg``).
    """

    __slots__ = ()
    SQLITE_FILE: ClassVar[str]
    SQLITE_SCHEME: ClassVar[str]
    SCHEME_ALIASES: ClassVar[Mapping[str, str]]
    data_dir: str
    database: _DatabaseSection

    @property
    def data_path(self) -> Path:
        """The data directory as an absolute path."""
        return Path(self.data_dir).resolve()

    @property
    def database_url(self) -> str:
        """The effective SQLAlchemy URL (the embedded SQLite file when none is set)."""
        if not self.database.url:
            return f"{self.SQLITE_SCHEME}:///{self.data_path / self.SQLITE_FILE}"
        scheme, sep, rest = self.database.url.reveal().partition("://")
        return f"{self.SCHEME_ALIASES.get(scheme, scheme)}{sep}{rest}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a URL's hostname) is ``localhost`` or a loopback address: where plain http is allowed
    outside test mode."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- parsers: a TOML value or an environment string to the option's type ------------------------------------------

def parse_duration(value: object) -> float:
    """Seconds: a number, or a string with unit s, m, h or d (``"15m"``)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected seconds or a number with unit s, m, h or d")
    return float(match[1]) * _UNITS[match[2]]


def parse_bool(value: object) -> bool:
    """A TOML boolean, or 1/0, true/false, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise ValueError("expected true or false")


def parse_int(value: object) -> int:
    """A TOML integer or a decimal string, negative ones included."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    raise ValueError("expected an integer")


def parse_strings(value: object) -> tuple[str, ...]:
    """A TOML list of strings, or one string of comma-separated values."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError("expected a list of strings")


def parse_str(value: object) -> str:
    """A string."""
    if isinstance(value, str):
        return value
    raise ValueError("expected a string")


def parse_secret(value: object) -> Secret:
    """A string, kept as a :class:`Secret`."""
    return Secret(parse_str(value))


PARSERS: Final[Mapping[Any, Callable[[object], Any]]] = {
    str: parse_str, int: parse_int, float: parse_duration, bool: parse_bool, tuple[str, ...]: parse_strings,
    Secret: parse_secret,
}


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """One documented option: where it lives, its type, default and documentation."""

    section: str | None
    name: str
    env: str
    type: Any
    default: Any
    doc: str
    recommend: str

    @property
    def key(self) -> str:
        """The TOML key, e.g. ``keys.publish_lead``."""
        return self.name if self.section is None else f"{self.section}.{self.name}"


def _documented_fields(cls: type[Any]) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "doc" in f.metadata:
            yield f, hints[f.name]


class SettingsSchema(Generic[S]):
    """The options of a root settings dataclass, and how to load, check and document them.

    ``renamed`` maps old keys to new ones (``{"log_level": "logging.level"}``): using an old key in the file or
    its environment variable is a problem naming the new key and variable. ``check`` returns the cross-field
    problems of loaded settings (empty when valid). ``other_prefixes`` are other services' prefixes that start
    with ours (``MYNACARD_VERIFIER_`` inside ``MYNACARD_``): their variables are not unknown ones of ours.
    """

    def __init__(self, root: type[S], *, env_prefix: str, config_env: str,
                 renamed: Mapping[str, str] | None = None, check: Callable[[S], list[str]] | None = None,
                 other_prefixes: tuple[str, ...] = ()) -> None:
        self.root = root
        self.env_prefix = env_prefix
        self.other_prefixes = other_prefixes
        self.config_env = config_env
        self.renamed: Mapping[str, str] = dict(renamed or {})
        self._check = check
        hints = typing.get_type_hints(root)
        self.sections: dict[str, type[Any]] = {
            f.name: hints[f.name] for f in dataclasses.fields(typing.cast(Any, root)) if "doc" not in f.metadata}
        options: list[OptionInfo] = []
        for section in (None, *self.sections):
            cls = root if section is None else self.sections[section]
            for f, kind in _documented_fields(cls):
                if kind not in PARSERS:
                    raise TypeError(f"{cls.__name__}.{f.name}: no parser for {kind}")
                key = f.name if section is None else f"{section}.{f.name}"
                options.append(OptionInfo(section, f.name, self.env_name(key), kind, f.default,
                                          f.metadata["doc"], f.metadata["recommend"]))
        self.options: tuple[OptionInfo, ...] = tuple(options)
        self._by_key = {o.key: o for o in options}
        if missing := [new for new in self.renamed.values() if new not in self._by_key]:
            raise ValueError(f"renamed to unknown settings: {', '.join(missing)}")
        if clashes := [old for old in self.renamed if old in self._by_key
                       or self.env_name(old) in {o.env for o in options}]:
            raise ValueError(f"renamed settings still in use (or sharing a variable): {', '.join(clashes)}")

    def env_name(self, key: str) -> str:
        """The environment variable of a TOML key: ``card_login.trust_dir`` -> ``MYNACARD_CARD_LOGIN_TRUST_DIR``."""
        return self.env_prefix + key.replace(".", "_").upper()

    def iter_options(self) -> Iterator[OptionInfo]:
        """Every option, in documentation order."""
        return iter(self.options)

    def load(self, config: Path | None = None, environ: Mapping[str, str] | None = None) -> S:
        """Settings from the TOML file (``config`` or ``$config_env``) and the environment, checked."""
        env = os.environ if environ is None else environ
        path = config if config is not None else (Path(env[self.config_env]) if env.get(self.config_env) else None)
        raw: dict[str, Any] = {}
        if path is not None:
            try:
                raw = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError([f"{path}: cannot read the configuration file "
                                     f"({type(exc).__name__}: {exc})"]) from None
        values, problems = self._collect(raw, env)
        if problems:
            raise SettingsError(problems)
        sections = {name: cls(**values[name]) for name, cls in self.sections.items()}
        settings = self.root(**values[None], **sections)
        if self._check is not None and (problems := self._check(settings)):
            raise SettingsError(problems)
        return settings

    def is_set(self, key: str, config: Path | None = None, environ: Mapping[str, str] | None = None) -> bool:
        """Whether option ``key`` is given by its environment variable or the TOML file (``config`` or
        ``$config_env``), rather than left at its default (the file was read by :meth:`load` already)."""
        env = os.environ if environ is None else environ
        if self.env_name(key) in env:
            return True
        path = config if config is not None else (Path(env[self.config_env]) if env.get(self.config_env) else None)
        if path is None:
            return False
        flat, _ = self._flatten(tomllib.loads(path.read_text(encoding="utf-8")))
        return key in flat

    def _flatten(self, raw: Mapping[str, Any]) -> tuple[dict[str, object], list[str]]:
        """``{"section.name": value}`` from the TOML document; and the sections that are not tables."""
        flat: dict[str, object] = {}
        problems: list[str] = []
        for key, value in raw.items():
            if key in self.sections or (isinstance(value, dict) and key not in self._by_key
                                        and any(old.startswith(f"{key}.") for old in self.renamed)):
                if isinstance(value, dict):
                    flat.update({f"{key}.{name}": v for name, v in value.items()})
                else:
                    problems.append(f"{key}: must be a table")
            else:
                flat[key] = value
        return flat, problems

    def _renamed(self, old: str, origin: str) -> str:
        new = self.renamed[old]
        if origin == old:
            return f"{old}: renamed to {new} (environment variable {self.env_name(new)})"
        return f"{origin}: renamed to {self.env_name(new)} ({new})"

    def _collect(self, raw: Mapping[str, Any], env: Mapping[str, str]) -> tuple[dict[str | None, dict[str, Any]],
                                                                              list[str]]:
        """Typed values per section from the TOML mapping and the environment; and every problem found."""
        flat, problems = self._flatten(raw)
        for key in flat:
            if key in self.renamed:
                problems.append(self._renamed(key, key))
            elif key not in self._by_key:
                problems.append(f"{key}: unknown setting")
        problems.extend(self._renamed(old, self.env_name(old)) for old in self.renamed if self.env_name(old) in env)
        values: dict[str | None, dict[str, Any]] = {None: {}, **{s: {} for s in self.sections}}
        for opt in self.options:
            source: tuple[object, str] | None = (flat[opt.key], opt.key) if opt.key in flat else None
            if opt.env in env:
                source = (env[opt.env], opt.env)
            if source is not None:
                try:
                    values[opt.section][opt.name] = PARSERS[opt.type](source[0])
                except ValueError as exc:
                    problems.append(f"{source[1]}: {exc}")
        return values, problems

    def unknown_variables(self, environ: Mapping[str, str]) -> list[str]:
        """Variables with our prefix that name no option (typos), sorted. Renamed ones are refused by
        :meth:`load` instead."""
        known = {o.env for o in self.options} | {self.config_env} | {self.env_name(old) for old in self.renamed}
        return sorted(name for name in environ if name.startswith(self.env_prefix) and name not in known
                      and not name.startswith(self.other_prefixes))

    def describe(self) -> str:
        """All options as a Markdown table (``config --docs``); secret defaults are never shown."""
        lines = ["| option | environment | default | description | recommendation |", "|---|---|---|---|---|"]
        for opt in self.options:
            default = opt.default
            shown = ("(unset)" if not default else "(secret)") if isinstance(default, Secret) else (
                ", ".join(default) if isinstance(default, tuple) else repr(default))
            lines.append(f"| `{opt.key}` | `{opt.env}` | {shown} | {opt.doc} | {opt.recommend} |")
        return "\n".join(lines)

    def effective(self, settings: S) -> dict[str, Any]:
        """Every option's value by key (``config``); a secret shows only as ``(set)`` or ``(unset)``."""
        shown: dict[str, Any] = {}
        for opt in self.options:
            value = getattr(settings if opt.section is None else getattr(settings, opt.section), opt.name)
            shown[opt.key] = ("(set)" if value else "(unset)") if isinstance(value, Secret) else value
        return shown
