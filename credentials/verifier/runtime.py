"""Building a worker's :class:`~credentials.verifier.service.VerifierService` from the settings.

Reads the files the settings name (issuer roots, the request-signing key and chain, the KEKs), builds the trust
store (pinned issuer roots; test roots only in test mode), the Verifier identity, the verification policy and the
Status List fetcher. :func:`prepare` does what must happen once before workers start (schema, development KEK),
so that workers never race for it.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from credentials.limits import DEFAULT_CREDENTIAL_LIMITS
from credentials.oid4vp.client_id import ClientIdPrefix, VerifierIdentity
from credentials.sdjwtvc import IssuerKeys
from credentials.status.check import Fetcher, StatusChecker
from credentials.status.token import STATUS_LIST_TYP
from credentials.verifier.service import VerifierService
from credentials.verifier.settings import Settings, outbound_policy
from credentials.verifier.store import TransactionStore
from credentials.verify import VerifierPolicy
from keys.service.encryption import KeyEncryptionKeys
from keys.service.errors import KeyServiceError
from keys.service.signer import SoftwareSigner
from keys.trust import TrustStore
from keys.trust_files import load_trust_directory
from servicekit import kek
from servicekit.database import Database
from servicekit.outbound import OutboundClient, OutboundError, request_sync

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
DEV_KEK_FILE: Final = "verifier-kek"
_log = logging.getLogger("credentials.verifier")


class StartupError(Exception):
    """The service cannot start with these settings and files; the message says why."""


def load_keks(settings: Settings) -> KeyEncryptionKeys:
    """The KEK list: ``keys.keks``, ``keys.kek_file`` or the development KEK in ``data_dir``, created once
    (:func:`servicekit.kek.load_keks`)."""
    try:
        return kek.load_keks(settings.keys, settings.data_path, development_file=DEV_KEK_FILE)
    except KeyServiceError as exc:
        raise StartupError(f"key-encryption keys: {exc}") from None


async def prepare(settings: Settings) -> None:
    """Once per deployment start, before the workers: the development KEK (when none is configured) and the
    schema."""
    db = Database.connect(settings.database_url)
    try:
        await TransactionStore(db, load_keks(settings)).migrate()
    finally:
        await db.dispose()


def issuer_trust(settings: Settings) -> TrustStore:
    """The pinned issuer roots of ``trust.issuer_roots_dir``; refuses to start without one."""
    directory = Path(settings.trust.issuer_roots_dir)
    if not directory.is_dir():
        raise StartupError(f"trust.issuer_roots_dir {directory} is not a directory")
    pins = {pin: "issuer root" for pin in settings.trust.issuer_root_pins}
    store = load_trust_directory(directory, allow_test_roots=settings.test_mode, extra_pins=pins)
    if not store.anchors:
        refused = "; ".join(f"{r.source}: {r.reason.value}" for r in store.refused) or "no certificates"
        raise StartupError(f"no issuer root admitted from {directory} ({refused})")
    return store


def verifier_identity(settings: Settings) -> VerifierIdentity:
    """The Client Identifier Prefix with its signing key and chain."""
    prefix = ClientIdPrefix(settings.client.id_prefix)
    if prefix is ClientIdPrefix.REDIRECT_URI:
        return VerifierIdentity.create(prefix)
    try:
        key = load_pem_private_key(Path(settings.client.signing_key_file).read_bytes(), password=None)
        chain_pem = Path(settings.client.certificate_chain_file).read_bytes()
    except (OSError, ValueError) as exc:
        raise StartupError(f"cannot read the request-signing key or chain: {type(exc).__name__}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise StartupError("the request-signing key must be a P-256 key (ES256)")
    chain = [x509.load_pem_x509_certificate(block) for block in _PEM_CERTIFICATE.findall(chain_pem)]
    try:
        signer = SoftwareSigner(key, "ES256", "request-signing")
        return VerifierIdentity.create(prefix, signer=signer, chain=chain, dns_name=settings.client.dns_name or None)
    except ValueError as exc:
        raise StartupError(str(exc)) from None


def status_fetcher(settings: Settings, outbound: OutboundClient) -> Fetcher:
    """GET a Status List Token (draft-ietf-oauth-status-list §8.1) through ``outbound`` (:mod:`servicekit.outbound`:
    the address policy of ``http.outbound_allow``, ``trust.status_timeout`` for the whole request, no redirects,
    bounded size): https only outside test mode. Blocking (verification runs in a worker thread). Any failure
    raises, which the checker turns into ``status_unavailable``; the reason is logged."""
    limit = DEFAULT_CREDENTIAL_LIMITS.status_jose.jws_bytes

    def fetch(uri: str) -> str:
        scheme = urlsplit(uri).scheme
        if scheme != "https" and not (settings.test_mode and scheme == "http"):
            raise ValueError("a Status List is fetched over https")
        try:
            response = request_sync(outbound, "GET", uri, headers={"Accept": f"application/{STATUS_LIST_TYP}"},
                                    deadline=settings.trust.status_timeout, max_bytes=limit)
        except OutboundError as exc:
            _log.warning("status_list_unavailable", extra={"reason": exc.reason.value})
            raise
        if response.status != 200:
            _log.warning("status_list_unavailable", extra={"reason": "status", "status": response.status})
            raise ValueError(f"status list answered {response.status}")
        return response.content.decode("ascii")

    return fetch


def build_service(settings: Settings) -> tuple[VerifierService, Callable[[], Awaitable[None]]]:
    """A worker's service and the coroutine function that closes its resources (engine, HTTP client)."""
    trust = issuer_trust(settings)
    identity = verifier_identity(settings)
    presentation = settings.presentation
    tolerance = dt.timedelta(seconds=presentation.clock_tolerance)
    policy = VerifierPolicy(
        issuer_keys=IssuerKeys(trust=trust), vcts=frozenset(presentation.vcts) or None,
        kb_max_age=dt.timedelta(seconds=presentation.kb_max_age), kb_leeway=tolerance, leeway=tolerance,
    )
    outbound = OutboundClient(outbound_policy(settings))
    status = StatusChecker(fetch=status_fetcher(settings, outbound), trust=trust, leeway=tolerance,
                           max_cache_age=dt.timedelta(seconds=settings.trust.status_max_cache_age))
    db = Database.connect(settings.database_url)
    store = TransactionStore(db, load_keks(settings))

    async def close() -> None:
        await outbound.aclose()
        await db.dispose()

    return VerifierService(settings, store, identity, policy, status), close
