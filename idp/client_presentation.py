"""What a client shows a person about itself: its name, logo, privacy policy and terms (OIDC Dynamic Client
Registration 1.0 §2: ``client_name``, ``logo_uri``, ``policy_uri``, ``tos_uri``, the human-readable ones with
BCP 47 language tags, §2.1), and its purpose of use per set of facts asked for (``purpose_of_use``, ours: Japan's
Act on the Protection of Personal Information, Art. 21, wants the purpose made known when personal data is
collected).

Checked alike for the admin CLI and dynamic registration (RFC 7591 §3.2.2 ``invalid_client_metadata``): texts are
non-empty, without control characters and length-limited; URLs are https (http only in test mode) and at most
2000 characters; at most :data:`MAX_TAGS` languages per member and :data:`MAX_PURPOSES` purposes.

``purpose_of_use`` maps a space-separated set of claim names or scope values, optionally with a language tag, to
the text shown beside those facts on the consent page::

    {"name birthdate": "会員登録の本人確認のため", "name birthdate#en": "To confirm who you are when you join"}

Usage::

    shown = presentation_from_metadata({"client_name": "Shop", "client_name#ja": "ショップ",
                                        "policy_uri": "https://shop.example/privacy"}, test_mode=False)
    shown.name("ja")                      # "ショップ"
    shown.purpose(["name"], "en")         # the purpose of the first set naming "name", or None
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

#: Longest client name, purpose text and URL (characters).
MAX_NAME: Final = 100
MAX_PURPOSE: Final = 400
MAX_URI: Final = 2000
#: Most language variants of one member, and most purposes.
MAX_TAGS: Final = 8
MAX_PURPOSES: Final = 16
#: The human-readable members that take language tags (§2.1); ``logo_uri`` is one image for all languages.
TAGGED: Final = ("client_name", "policy_uri", "tos_uri")
PURPOSE: Final = "purpose_of_use"
_TAG: Final = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CLAIM: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

#: Texts by language tag; ``""`` is the text without a tag (the default).
Texts = Mapping[str, str]


class PresentationError(ValueError):
    """Presentation metadata that is refused (the message says which member and why)."""


@dataclass(frozen=True, slots=True)
class Presentation:
    """A client's presentation metadata (empty: the pages show the ``client_id``)."""

    client_name: Texts = field(default_factory=dict)
    logo_uri: str | None = None
    policy_uri: Texts = field(default_factory=dict)
    tos_uri: Texts = field(default_factory=dict)
    #: Claim set (sorted names) -> texts by language tag.
    purposes: Mapping[tuple[str, ...], Texts] = field(default_factory=dict)

    def name(self, lang: str) -> str | None:
        """The client's name in ``lang`` (§2.1: the untagged one otherwise, then any)."""
        return _pick(self.client_name, lang)

    def policy(self, lang: str) -> str | None:
        """The privacy policy's URL for ``lang``."""
        return _pick(self.policy_uri, lang)

    def terms(self, lang: str) -> str | None:
        """The terms of service's URL for ``lang``."""
        return _pick(self.tos_uri, lang)

    def purpose(self, asked: Iterable[str], lang: str) -> str | None:
        """The purpose of use of the first claim set that names one of ``asked``, in ``lang``."""
        wanted = set(asked)
        for names, texts in self.purposes.items():
            if wanted & set(names):
                return _pick(texts, lang)
        return None

    def metadata(self) -> dict[str, Any]:
        """The members as registered (RFC 7591 §3.2.1 echoes them), language-tagged ones as ``name#tag``."""
        members: dict[str, Any] = {}
        for name in TAGGED:
            for tag, text in getattr(self, name).items():
                members[f"{name}#{tag}" if tag else name] = text
        if self.logo_uri is not None:
            members["logo_uri"] = self.logo_uri
        if self.purposes:
            members[PURPOSE] = {f"{' '.join(names)}#{tag}" if tag else " ".join(names): text
                                for names, texts in self.purposes.items() for tag, text in texts.items()}
        return members

    def is_empty(self) -> bool:
        """Whether nothing was registered."""
        return not self.metadata()


def _pick(texts: Texts, lang: str) -> str | None:
    for tag in (lang, ""):
        if tag in texts:
            return texts[tag]
    for tag, text in texts.items():  # a regional tag of the language (en-GB for en), then any
        if tag.split("-")[0].lower() == lang:
            return text
    return next(iter(texts.values()), None)


def _text(value: object, member: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or _CONTROL.search(value):
        raise PresentationError(f"{member} must be a non-empty text of at most {limit} characters, without "
                                "control characters")
    return value.strip()


def _uri(value: object, member: str, *, test_mode: bool) -> str:
    text = _text(value, member, MAX_URI)
    try:
        parts = urlsplit(text)
    except ValueError:
        raise PresentationError(f"{member} is not a URL") from None
    allowed = ("https", "http") if test_mode else ("https",)
    if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password:
        raise PresentationError(f"{member} must be an https URL" + (" (or http, in test mode)" if test_mode else ""))
    return text


def _split(key: str, member: str) -> tuple[str, str]:
    """``name#tag`` -> (``name``, ``tag``); the tag checked (BCP 47 syntax)."""
    base, sep, tag = key.partition("#")
    if sep and not _TAG.fullmatch(tag):
        raise PresentationError(f"{member}: {tag!r} is not a language tag (BCP 47)")
    return base, tag


def _purposes(value: object) -> dict[tuple[str, ...], dict[str, str]]:
    if not isinstance(value, Mapping) or len(value) > MAX_PURPOSES * MAX_TAGS:
        raise PresentationError(f"{PURPOSE} must be an object of claim sets to texts")
    purposes: dict[tuple[str, ...], dict[str, str]] = {}
    for key, text in value.items():
        claims, tag = _split(str(key), PURPOSE)
        names = tuple(sorted(set(claims.split())))
        if not names or not all(_CLAIM.fullmatch(n) for n in names):
            raise PresentationError(f"{PURPOSE}: {claims!r} is not a space-separated list of claim or scope names")
        purposes.setdefault(names, {})[tag] = _text(text, f"{PURPOSE} {claims!r}", MAX_PURPOSE)
    if len(purposes) > MAX_PURPOSES or any(len(texts) > MAX_TAGS for texts in purposes.values()):
        raise PresentationError(f"{PURPOSE}: at most {MAX_PURPOSES} claim sets of at most {MAX_TAGS} languages")
    return purposes


def presentation_from_metadata(document: Mapping[str, Any], *, test_mode: bool) -> Presentation:
    """The presentation members of registration metadata (other members are left alone), checked; raises
    :class:`PresentationError`."""
    tagged: dict[str, dict[str, str]] = {name: {} for name in TAGGED}
    for key, value in document.items():
        base, tag = _split(key, key) if "#" in key else (key, "")
        if base not in TAGGED:
            continue
        if base == "client_name":
            tagged[base][tag] = _text(value, key, MAX_NAME)
        else:
            tagged[base][tag] = _uri(value, key, test_mode=test_mode)
        if len(tagged[base]) > MAX_TAGS:
            raise PresentationError(f"{base}: at most {MAX_TAGS} languages")
    logo = document.get("logo_uri")
    return Presentation(client_name=tagged["client_name"],
                        logo_uri=None if logo is None else _uri(logo, "logo_uri", test_mode=test_mode),
                        policy_uri=tagged["policy_uri"], tos_uri=tagged["tos_uri"],
                        purposes=_purposes(document[PURPOSE]) if document.get(PURPOSE) is not None else {})


__all__ = ["MAX_NAME", "MAX_PURPOSE", "MAX_PURPOSES", "MAX_TAGS", "MAX_URI", "PURPOSE", "TAGGED", "Presentation",
           "PresentationError", "Texts", "presentation_from_metadata"]
