"""Every setting of the verifier service (``python -m credentials verifier``), with its default, description and
recommendation: the one defaults file of the service.

Settings come from a TOML file (``--config`` or ``MYNACARD_VERIFIER_CONFIG``) and from ``MYNACARD_VERIFIER_*``
environment variables, which win over the file; the variable of ``[section] name`` is
``MYNACARD_VERIFIER_SECTION_NAME`` (``MYNACARD_VERIFIER_NAME`` for top-level options). :func:`load_settings`
checks them together and raises :class:`SettingsError` listing every problem; :func:`unsafe_warnings` lists
defaults that are fine on a laptop and wrong in production (logged at every start).
``python -m credentials verifier config --docs`` prints this file as a table.

The engine (parsing, durations such as ``"15m"``, secrets, documentation) is :mod:`servicekit.settings`, shared
with the provider; this module holds only the service's sections and checks. The top-level ``log_level`` became
``[logging] level``, as the provider has it; the old name fails at start with a message naming the new one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from credentials.oid4vp.client_id import ClientIdPrefix
from credentials.oid4vp.request import ResponseMode
from servicekit import settings as engine
from servicekit.kek import KekSettings
from servicekit.outbound import AddressPolicy, allow_list_problems
from servicekit.settings import LoggingSettings, OptionInfo, Secret, SettingsError, SettingsSchema, is_loopback, option

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "SCHEMA", "LoggingSettings", "OptionInfo", "Secret", "Settings",
           "SettingsError", "check", "describe", "iter_options", "load_settings", "outbound_policy",
           "unsafe_warnings"]

ENV_PREFIX: Final = "MYNACARD_VERIFIER_"
CONFIG_ENV: Final = "MYNACARD_VERIFIER_CONFIG"
_DATABASE_SCHEMES: Final = {"sqlite": "sqlite+aiosqlite", "sqlite+aiosqlite": "sqlite+aiosqlite",
                            "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg",
                            "postgresql+asyncpg": "postgresql+asyncpg"}
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
#: Settings that moved; the old names fail at start naming the new ones.
RENAMED: Final = {"log_level": "logging.level"}


@dataclass(frozen=True, slots=True)
class ServerSettings(engine.ServerSettings):
    """``[server]``: where the service listens."""

    port: int = option(8100, doc="TCP port to listen on.")


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``[database]``: where transactions live (requests, one-time nonces, results waiting for the relying party)."""

    url: Secret = engine.secret_option(
        doc="SQLAlchemy URL (secret: it may hold a password): sqlite+aiosqlite:///path or postgresql+asyncpg://… "
            "(sqlite:// and postgresql:// pick those drivers). Empty: SQLite file verifier.sqlite3 in data_dir.",
        recommend="PostgreSQL for several machines; SQLite is fine for several workers on one machine.")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """``[client]``: how the Verifier identifies itself to Wallets (OpenID4VP 1.0 §5.9)."""

    id_prefix: str = option("x509_hash", doc="Client Identifier Prefix: 'x509_hash' (signed requests, what HAIP "
                                             "requires), 'x509_san_dns' (signed; the response URI's host must be "
                                             "dns_name) or 'redirect_uri' (unsigned; tests and closed deployments).",
                            recommend="x509_hash, or x509_san_dns where Wallets expect it.")
    dns_name: str = option("", doc="The dNSName of the request-signing certificate (x509_san_dns only); must be "
                                   "base_url's host.")
    signing_key_file: str = option("", doc="PEM file with the P-256 private key that signs Request Objects "
                                           "(x509 prefixes).",
                                   recommend="Readable by the service user only.")
    certificate_chain_file: str = option("", doc="PEM file with the request-signing certificate chain, leaf first, "
                                                 "without the trust anchor (HAIP 1.0 §5).")
    wallet_url: str = option("openid4vp://", doc="Authorization endpoint of the Wallet that invocation links and "
                                                 "QR codes open (openid4vp://, haip-vp:// or a claimed https URL).")


@dataclass(frozen=True, slots=True)
class PresentationSettings:
    """``[presentation]``: requests, responses and what is accepted."""

    response_mode: str = option("direct_post.jwt", doc="Default Response Mode: 'direct_post.jwt' (encrypted to a "
                                                       "fresh key per request) or 'direct_post'. A relying party "
                                                       "may choose per request.",
                                recommend="direct_post.jwt (HAIP 1.0 §5 requires it).")
    request_ttl: float = option(300.0, doc="How long a request can be answered (Request Object exp, nonce lifetime).")
    result_ttl: float = option(120.0, doc="How long a verified or rejected result waits for the relying party; it "
                                          "is deleted when fetched.")
    kb_max_age: float = option(300.0, doc="Oldest Key Binding JWT iat accepted (RFC 9901 §7.3).")
    clock_tolerance: float = option(30.0, doc="Allowed clock difference for KB-JWT iat in the future and for "
                                              "credential exp/nbf.")
    vcts: tuple[str, ...] = option((), doc="Credential types (vct) accepted at all; empty: whatever each request's "
                                           "DCQL query names.",
                                   recommend="The types your relying parties may ask for.")


@dataclass(frozen=True, slots=True)
class TrustSettings:
    """``[trust]``: which credential issuers are believed (HAIP 1.0: x5c chains to pinned roots)."""

    issuer_roots_dir: str = option("", doc="Directory of issuer root certificates (PEM or DER). Only roots whose "
                                           "SHA-256 fingerprint is in issuer_root_pins are admitted (test roots, "
                                           "O=...TEST, also in test mode). Required.")
    issuer_root_pins: tuple[str, ...] = option((), doc="Lower-case hex SHA-256 fingerprints (DER) of the admitted "
                                                       "issuer roots.")
    status_timeout: float = option(5.0, doc="Seconds allowed to fetch a Status List Token (a deadline for the "
                                            "whole request, not per read); on failure the presentation is refused "
                                            "(status_unavailable).")
    status_max_cache_age: float = option(3600.0, doc="Longest a fetched Status List is reused, whatever its ttl "
                                                     "says (draft-ietf-oauth-status-list §13.6).")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: the service's outbound requests (Status List fetches)."""

    outbound_allow: tuple[str, ...] = option(
        (), doc="Networks (CIDR, such as 10.1.0.0/16) Status Lists may be fetched from although they are not "
                "public: a fetch is refused when its host resolves to a loopback, private, link-local, multicast, "
                "reserved or cloud-metadata address (servicekit.outbound), except loopback in test mode and these "
                "networks.",
        recommend="Empty, or only the network of an internal Status List server.")


@dataclass(frozen=True, slots=True)
class RpSettings:
    """``[rp]``: the relying parties' API (create requests, fetch results)."""

    api_keys: Secret = engine.secret_option(
        doc="Bearer keys of the relying-party API, separated by commas (secret). Required outside test mode.",
        recommend="At least 32 random characters each, from a secret store.")
    redirect_uris: tuple[str, ...] = option((), doc="Exact URLs a same-device flow may send the person back to "
                                                    "(with response_code); requests naming another are refused.")


@dataclass(frozen=True, slots=True)
class KeySettings(KekSettings):
    """``[keys]``: encryption at rest of the per-request response keys and of results waiting for the RP
    (``keks``, ``kek_file``: :class:`servicekit.kek.KekSettings`)."""


@dataclass(frozen=True, slots=True)
class Settings(engine.DataLocation):
    """All settings. Top-level options first, then one section per table; ``data_path`` and ``database_url``
    from :class:`~servicekit.settings.DataLocation`."""

    SQLITE_FILE = "verifier.sqlite3"
    SQLITE_SCHEME = "sqlite+aiosqlite"
    SCHEME_ALIASES = _DATABASE_SCHEMES

    base_url: str = option("http://127.0.0.1:8100", doc="Public URL of this service (scheme, host, port, optional "
                                                        "path): request_uri and response_uri live under it.",
                           recommend="An https URL; http only for loopback or in test mode.")
    data_dir: str = option("var/verifier", doc="Directory for the embedded SQLite database and the development KEK.")
    test_mode: bool = option(False, doc="Test mode: test issuer roots, http URLs, an open relying-party API when "
                                        "no api_keys are set.", recommend="Never in production.")
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    presentation: PresentationSettings = field(default_factory=PresentationSettings)
    trust: TrustSettings = field(default_factory=TrustSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    rp: RpSettings = field(default_factory=RpSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    @property
    def api_keys(self) -> tuple[str, ...]:
        """The relying-party API keys."""
        return tuple(k.strip() for k in self.rp.api_keys.reveal().split(",") if k.strip())


def outbound_policy(settings: Settings) -> AddressPolicy:
    """Where Status List fetches may go (:mod:`servicekit.outbound`): public addresses, loopback in test mode,
    and the networks of ``http.outbound_allow``."""
    return AddressPolicy.from_settings(test_mode=settings.test_mode, allow=settings.http.outbound_allow)


def check(settings: Settings) -> list[str]:
    """Every problem of ``settings`` (empty when valid)."""
    problems: list[str] = allow_list_problems("http.outbound_allow", settings.http.outbound_allow)
    base = urlsplit(settings.base_url)
    if base.scheme not in ("https", "http") or not base.hostname or base.query or base.fragment:
        problems.append("base_url: an absolute https URL without query or fragment")
    elif base.scheme == "http" and not (settings.test_mode or is_loopback(base.hostname)):
        problems.append("base_url: http only for loopback hosts or in test mode")
    client = settings.client
    if client.id_prefix not in {p.value for p in ClientIdPrefix}:
        problems.append(f"client.id_prefix: one of {', '.join(p.value for p in ClientIdPrefix)}")
    elif client.id_prefix != ClientIdPrefix.REDIRECT_URI:
        if not (client.signing_key_file and client.certificate_chain_file):
            problems.append(f"client.signing_key_file, client.certificate_chain_file: required by {client.id_prefix}")
        if client.id_prefix == ClientIdPrefix.X509_SAN_DNS and client.dns_name.lower() != (base.hostname or ""):
            problems.append("client.dns_name: required by x509_san_dns, and must be base_url's host (§5.9.3)")
    if settings.presentation.response_mode not in {m.value for m in ResponseMode}:
        problems.append("presentation.response_mode: 'direct_post.jwt' or 'direct_post'")
    for name in ("request_ttl", "result_ttl", "kb_max_age"):
        if getattr(settings.presentation, name) <= 0:
            problems.append(f"presentation.{name}: must be positive")
    if settings.presentation.clock_tolerance < 0:
        problems.append("presentation.clock_tolerance: must not be negative")
    if not settings.trust.issuer_roots_dir:
        problems.append("trust.issuer_roots_dir: required (no issuer can be trusted without roots)")
    if bad := [p for p in settings.trust.issuer_root_pins if not _FINGERPRINT.match(p)]:
        problems.append(f"trust.issuer_root_pins: {len(bad)} value(s) are not 64 lower-case hex digits")
    if settings.trust.status_timeout <= 0 or settings.trust.status_max_cache_age <= 0:
        problems.append("trust.status_timeout and trust.status_max_cache_age: must be positive")
    if not settings.api_keys and not settings.test_mode:
        problems.append("rp.api_keys: required outside test mode")
    if any(len(k) < 32 for k in settings.api_keys) and not settings.test_mode:
        problems.append("rp.api_keys: each at least 32 characters")
    for uri in settings.rp.redirect_uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
            problems.append(f"rp.redirect_uris: {uri!r} is not an absolute URL without fragment")
    if settings.database_url.partition("://")[0] not in _DATABASE_SCHEMES.values():
        problems.append("database.url: sqlite+aiosqlite:// or postgresql+asyncpg://")
    problems.extend(settings.keys.kek_problems())
    problems.extend(settings.server.problems())
    problems.extend(settings.logging.problems())
    return problems


def unsafe_warnings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Settings that are fine for development but unsafe in production, and unknown variables."""
    env = os.environ if environ is None else environ
    warnings = []
    if settings.test_mode:
        warnings.append("test mode is on: test issuer roots and http URLs are accepted")
    if not settings.api_keys:
        warnings.append("rp.api_keys is empty: anyone can create requests and fetch results")
    if settings.client.id_prefix == ClientIdPrefix.REDIRECT_URI:
        warnings.append("client.id_prefix is redirect_uri: requests are unsigned and Wallets cannot authenticate us")
    if settings.presentation.response_mode == ResponseMode.DIRECT_POST:
        warnings.append("presentation.response_mode is direct_post: responses travel unencrypted at the application "
                        "layer")
    if not settings.keys.configured:
        warnings.append("no key-encryption key configured: a development KEK in data_dir protects response keys")
    warnings.extend(f"unknown environment variable {name} ignored" for name in SCHEMA.unknown_variables(env))
    return warnings


SCHEMA: Final = SettingsSchema(Settings, env_prefix=ENV_PREFIX, config_env=CONFIG_ENV, renamed=RENAMED, check=check)

#: Settings from the TOML file (``config`` or ``$CONFIG_ENV``) and the environment, validated; every option in
#: documentation order; all options as a Markdown table (``python -m credentials verifier config --docs``).
load_settings: Final = SCHEMA.load
iter_options: Final = SCHEMA.iter_options
describe: Final = SCHEMA.describe
