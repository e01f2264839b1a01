"""What the services' pages say, in Japanese and English: one catalog per service and the rule choosing the language.

A catalog is a TOML file inside the service's package (shipped as package data). TOML rather than JSON or Python:
``tomllib`` reads it without a dependency, Japanese text stays readable as written, long sentences may span lines,
and comments can say where a message is shown. Each message is a table with exactly ``ja`` and ``en``; tables
nest, and a message's key is its dotted path. ``{name}`` placeholders are filled from keyword arguments
(:meth:`str.format`); the result is plain text, escaped by the template that shows it.

The page language (:func:`language`): the first of ``ui_locales`` (OIDC Core §3.1.2.1) we speak, else the
browser's most preferred language we speak (``Accept-Language``, RFC 9110 §12.5.4), else Japanese.

Usage::

    catalog = Catalog.load("idp", "messages.toml")
    lang = language(["fr", "en-GB"], "ja;q=0.5")          # "en"
    catalog.message("card_login.code", lang)              # "Code"
    catalog.message("portal.validity", "ja", minutes=5)   # "有効期限は約5分です。…"
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Final

LANGUAGES: Final = ("ja", "en")
DEFAULT_LANGUAGE: Final = "ja"
_MAX_ACCEPT_LANGUAGE: Final = 512
_MAX_ACCEPT_ITEMS: Final = 32


def accepted_languages(accept_language: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header (RFC 9110 §12.5.4), most preferred first, q=0 left out."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")[:_MAX_ACCEPT_ITEMS]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag.strip() and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def language(ui_locales: Iterable[str], accept_language: str | None = None) -> str:
    """The page language: the first of ``ui_locales`` (OIDC Core §3.1.2.1) we speak, else the browser's most
    preferred language we speak (``Accept-Language``), else Japanese."""
    for tag in (*ui_locales, *accepted_languages(accept_language or "")):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


class CatalogError(ValueError):
    """A catalog file that is not a tree of ``{ja, en}`` messages."""


def _flatten(table: Mapping[str, Any], prefix: str, into: dict[str, Mapping[str, str]]) -> None:
    for name, value in table.items():
        key = f"{prefix}{name}"
        if not isinstance(value, Mapping):
            raise CatalogError(f"{key}: a table is expected")
        if set(value) == set(LANGUAGES) and all(isinstance(text, str) for text in value.values()):
            into[key] = {lang: str(text) for lang, text in value.items()}
        elif any(lang in value for lang in LANGUAGES):
            raise CatalogError(f"{key}: a message needs exactly {' and '.join(LANGUAGES)}, as text")
        else:
            _flatten(value, f"{key}.", into)


class Catalog:
    """The messages of one service, by dotted key."""

    def __init__(self, messages: Mapping[str, Mapping[str, str]]) -> None:
        self._messages = dict(messages)

    @classmethod
    def parse(cls, text: str) -> Catalog:
        """A catalog from TOML text (see the module docstring)."""
        messages: dict[str, Mapping[str, str]] = {}
        _flatten(tomllib.loads(text), "", messages)
        return cls(messages)

    @classmethod
    def load(cls, package: str, name: str) -> Catalog:
        """The catalog file ``name`` of ``package`` (package data, so it works from an installed wheel)."""
        return cls.parse(resources.files(package).joinpath(name).read_text(encoding="utf-8"))

    def __contains__(self, key: object) -> bool:
        return key in self._messages

    def keys(self) -> frozenset[str]:
        """Every message key."""
        return frozenset(self._messages)

    def message(self, key: str, lang: str, **params: object) -> str:
        """Message ``key`` in ``lang`` (Japanese for a language we do not speak), placeholders filled."""
        text = self._messages[key][lang if lang in LANGUAGES else DEFAULT_LANGUAGE]
        return text.format(**params) if params else text

    def both(self, key: str, **params: object) -> tuple[str, str]:
        """Message ``key`` as (Japanese, English), for answers that carry both (e.g. ``message_ja`` and
        ``message``)."""
        return self.message(key, "ja", **params), self.message(key, "en", **params)


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "Catalog", "CatalogError", "accepted_languages", "language"]
