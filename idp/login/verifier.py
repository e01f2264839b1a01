"""The provider's card-login verifier: the pinned trust store and the revocation data, from configured
directories, around :func:`keys.cardlogin.verify_card_login`.

Revocation sources:

* CRL files (DER or PEM) in ``card_login.crl_dir``, typically placed there by a job that fetches J-LIS's (or a
  platform operator's) CRLs. Each file is authenticated against the trust anchor whose subject issued it (every
  root generation is tried, since they share one DN) and indexed once; the directory is re-read when its files
  change. Files that do not authenticate are skipped and logged by name.
* With ``card_login.ocsp``, also the OCSP responder an authentication certificate names (:mod:`idp.login.ocsp`),
  asked with a nonce once the certificate's path is valid, its verdicts cached in the database for every worker.
* Or, with ``card_login.platform_url``, a platform operator's validity-check service (:mod:`idp.login.platform`),
  asked with a nonce once the path is valid, its answers cached in the database for every worker.

A fresh, authenticated GOOD from any configured source suffices; a REVOKED from any refuses; with none, the
revocation policy fails closed: no login. The CRL directory may be left out when an online source is configured.

Configuration problems (no trust directory, no root admitted, no revocation source) do not stop the provider
(discovery, tokens and refresh keep serving): it logs them at start and reports not ready on ``GET /readyz``
(:mod:`idp.login.readiness`), naming the setting; a card login tried anyway fails with a message a person
understands.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import anyio.to_thread
from cryptography import x509

from idp.login.ocsp import OcspCache, fetch_ocsp
from idp.login.platform import (
    HttpPlatformOperator,
    RevocationCache,
    certificate_digest,
    load_operator_keys,
    new_nonce,
)
from idp.settings import CardLoginSettings, Settings, outbound_policy
from idp.storage import ObjectStore
from keys.cardlogin import (
    CardLogin,
    CertificateStanding,
    LoginMessage,
    RevocationInputs,
    check_card_certificate,
    verify_card_login,
)
from keys.errors import VerificationError
from keys.revocation import (
    CachedOcspStatus,
    CrlIndex,
    PlatformAnswer,
    RevocationPolicy,
    RevocationStatus,
    Revoked,
    load_crl,
)
from keys.trust import TrustStore
from keys.trust_files import load_trust_directory
from keys.x509.path import ValidatedPath, validate_path
from keys.x509.profile import JPKI_AUTH, JPKI_SIGN, Purpose
from servicekit.outbound import AddressPolicy, OutboundClient

_log = logging.getLogger("idp.login")
_CRL_SUFFIXES = {".crl", ".der", ".pem"}
_PROFILES = {Purpose.AUTH: JPKI_AUTH, Purpose.SIGN: JPKI_SIGN}
#: Refused roots named in a :class:`NotConfigured` message.
_REFUSALS_SHOWN = 8
#: A platform operator's answer with the nonce sent for it (``None`` for a cached answer), or no answer.
_Platform = tuple[PlatformAnswer, bytes | None] | None
#: What a check under the shared answers returns: a verified login or a certificate's standing.
_Checked = TypeVar("_Checked", CardLogin, CertificateStanding)
#: How often the CRL directory is looked at for changes.
RESCAN_INTERVAL = 5.0
#: Age after which the index file of a CRL no longer in the directory is removed.
STALE_INDEX_AGE = 3600.0


class NotConfigured(Exception):
    """Card login cannot run with this configuration: ``setting`` names the setting, ``problem`` what is wrong
    with it (no file system paths: it is shown on ``/readyz``)."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


@dataclass
class CrlDirectory:
    """The CRLs of a directory, authenticated against the trust anchors, reloaded when the files change.

    Each CRL's serial index is a file of ``index_dir`` shared by every worker of the host (built by the first
    worker that loads the CRL, mapped by the others: :func:`keys.revocation.load_crl`); without ``index_dir``,
    or when it cannot be written, each worker indexes in memory. While no CRL is usable the caller waits for
    the load (there is nothing to answer with); otherwise a change (a CRL replaced at its nextUpdate) is loaded
    in a background thread while the previous CRLs keep answering, and the new set replaces them in one
    assignment once it is ready.
    """

    directory: Path
    trust: TrustStore
    index_dir: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _snapshot: tuple[tuple[str, int, int], ...] | None = field(default=None, repr=False)
    _indexes: tuple[CrlIndex, ...] = field(default=(), repr=False)
    _scanned: float = field(default=-RESCAN_INTERVAL, repr=False)
    _loading: threading.Thread | None = field(default=None, repr=False)

    def indexes(self, at: dt.datetime) -> tuple[CrlIndex, ...]:
        """The authenticated CRLs (a change of the directory since the last look is loaded in the background)."""
        with self._lock:
            if time.monotonic() - self._scanned < RESCAN_INTERVAL or self._loading is not None:
                return self._indexes
            self._scanned = time.monotonic()
            try:
                files = sorted(p for p in self.directory.iterdir() if p.suffix.lower() in _CRL_SUFFIXES and p.is_file())
                snapshot = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
            except OSError as exc:
                _log.error("crl_directory_unreadable", extra={"error": exc.strerror})
                self._snapshot, self._indexes = None, ()
                return ()
            if snapshot == self._snapshot:
                return self._indexes
            if not self._indexes:  # nothing to answer with: the caller waits for the load
                self._replace(files, snapshot, at)
                return self._indexes
            self._loading = threading.Thread(target=self._reload, args=(files, snapshot, at), daemon=True,
                                             name="crl-reload")
            self._loading.start()
            return self._indexes

    def wait_for_reload(self, timeout: float | None = None) -> None:
        """Wait for a background reload to finish (tests, shutdown)."""
        loading = self._loading
        if loading is not None:
            loading.join(timeout)

    def _reload(self, files: list[Path], snapshot: tuple[tuple[str, int, int], ...], at: dt.datetime) -> None:
        try:
            self._replace(files, snapshot, at)
        finally:
            self._loading = None

    def _replace(self, files: list[Path], snapshot: tuple[tuple[str, int, int], ...], at: dt.datetime) -> None:
        indexes = tuple(index for path in files if (index := self._load(path, at)) is not None)
        self._indexes, self._snapshot = indexes, snapshot
        _log.info("crls_loaded", extra={"files": len(files), "usable": len(indexes)})
        self._remove_stale_index_files(indexes)

    def _load(self, path: Path, at: dt.datetime) -> CrlIndex | None:
        try:
            data = path.read_bytes()
            crl = (x509.load_pem_x509_crl if data.lstrip().startswith(b"-----BEGIN") else x509.load_der_x509_crl)(data)
        except (OSError, ValueError) as exc:
            _log.warning("crl_unreadable", extra={"file": path.name, "error": type(exc).__name__})
            return None
        failure: VerificationError | None = None
        for anchor in self.trust.anchors:
            if anchor.certificate.subject != crl.issuer:
                continue
            try:
                return self._authenticate(data, anchor.certificate, at)
            except VerificationError as exc:
                failure = exc
        _log.warning("crl_refused", extra={"file": path.name,
                                           "reason": failure.reason.value if failure else "no_matching_root"})
        return None

    def _authenticate(self, data: bytes, issuer: x509.Certificate, at: dt.datetime) -> CrlIndex:
        if self.index_dir is not None:
            try:
                return load_crl(data, issuer=issuer, at=at, index_dir=self.index_dir)
            except OSError as exc:  # the shared index cannot be written: this worker indexes in memory
                _log.warning("crl_index_unwritable", extra={"error": exc.strerror})
        return load_crl(data, issuer=issuer, at=at)

    def _remove_stale_index_files(self, current: tuple[CrlIndex, ...]) -> None:
        """Index files of CRLs no longer in the directory, once older than :data:`STALE_INDEX_AGE` (a worker that
        has not reloaded yet keeps its mapping of an unlinked file; one that needs it again rebuilds it)."""
        if self.index_dir is None:
            return
        keep = {index.sha256.hex() for index in current}
        cutoff = time.time() - STALE_INDEX_AGE
        try:
            for path in self.index_dir.iterdir():
                if path.name.split(".", 1)[0] not in keep and path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("crl_index_cleanup_failed", extra={"error": exc.strerror})


@dataclass
class CardVerifier:
    """Verifies card logins for one configuration."""

    trust: TrustStore
    crls: CrlDirectory | None
    policy: RevocationPolicy = field(default_factory=RevocationPolicy)
    #: Seconds allowed for an OCSP responder (``None``: OCSP is not used).
    ocsp_timeout: float | None = None
    #: The platform operator asked about every certificate (``None``: not used).
    platform: HttpPlatformOperator | None = None
    #: The client of the OCSP requests and the platform operator's (its address policy: ``http.outbound_allow``).
    outbound: OutboundClient = field(default_factory=lambda: OutboundClient(AddressPolicy()))

    @classmethod
    def from_settings(cls, settings: Settings) -> CardVerifier:
        """Build from the ``card_login`` settings; raise :class:`NotConfigured`."""
        options = settings.card_login
        if not options.trust_dir:
            raise NotConfigured("card_login.trust_dir", "is not set: no card root is trusted")
        if not (options.crl_dir or options.ocsp or options.platform_url):
            raise NotConfigured("card_login.crl_dir", "no revocation source: set card_login.crl_dir, card_login.ocsp "
                                                      "or card_login.platform_url")
        directory = Path(options.trust_dir)
        if not directory.is_dir():
            raise NotConfigured("card_login.trust_dir", "is not a directory")
        if options.crl_dir and not Path(options.crl_dir).is_dir():
            raise NotConfigured("card_login.crl_dir", "is not a directory")
        try:
            trust = load_trust_directory(directory, allow_test_roots=settings.test_mode)
        except OSError as exc:
            raise NotConfigured("card_login.trust_dir", f"cannot be read: {exc.strerror}") from None
        except VerificationError as exc:
            raise NotConfigured("card_login.trust_dir", exc.detail) from None
        if not trust.anchors:  # the message names the refused files (and is not logged on every /readyz probe)
            raise NotConfigured("card_login.trust_dir", "no root certificate was admitted" + _refusals(trust))
        for refused in trust.refused:
            _log.warning("trust_root_refused", extra={"file": refused.source, "reason": refused.reason.value})
        platform = None
        outbound = OutboundClient(outbound_policy(settings))
        if options.platform_url:
            try:
                keys = load_operator_keys(Path(options.platform_jwks))
            except (OSError, ValueError, VerificationError) as exc:
                raise NotConfigured("card_login.platform_jwks", f"unusable ({type(exc).__name__})") from None
            platform = HttpPlatformOperator(options.platform_url, options.platform_operator, keys,
                                            options.platform_timeout, outbound)
        freshness = dt.timedelta(seconds=options.revocation_freshness)
        crls = None
        if options.crl_dir:
            crls = CrlDirectory(Path(options.crl_dir), trust,
                                Path(options.crl_index_dir or Path(options.crl_dir) / ".index"))
        return cls(trust, crls,
                   policy=RevocationPolicy(platform_max_age=freshness),
                   ocsp_timeout=options.ocsp_timeout if options.ocsp else None, platform=platform, outbound=outbound)

    def _path(self, certificate: bytes, key: Purpose, at: dt.datetime) -> ValidatedPath | None:
        try:
            return validate_path(certificate, profile=_PROFILES[key], trust=self.trust, at=at)
        except VerificationError:
            return None  # verify_card_login raises the same error

    def ask_platform(self, certificate: bytes, key: Purpose, at: dt.datetime) -> tuple[PlatformAnswer, bytes] | None:
        """A fresh answer of the platform operator about a certificate whose path is valid, and the nonce sent;
        ``None`` when none is configured, the path is invalid or the operator gave no usable answer (blocking:
        run it in a worker thread)."""
        if self.platform is None or self._path(certificate, key, at) is None:
            return None
        nonce = new_nonce()
        try:
            return self.platform.check(certificate, key, nonce=nonce), nonce
        except VerificationError as exc:
            _log.warning("platform_unavailable", extra={"reason": exc.reason.value, "detail": exc.detail})
            return None

    async def platform_status(self, objects: ObjectStore, certificate: bytes, key: Purpose,
                              at: dt.datetime) -> tuple[PlatformAnswer, bytes | None] | None:
        """The platform operator's answer for :meth:`verify`: from the shared cache while usable, else asked
        (in a worker thread) and cached; ``None`` without an operator or a usable answer."""
        if self.platform is None:
            return None
        cache = RevocationCache(objects)
        cached = await cache.get(certificate_digest(certificate), at)
        if cached is not None:
            return cached, None
        fetched = await anyio.to_thread.run_sync(lambda: self.ask_platform(certificate, key, at))
        if fetched is not None:
            await cache.put(fetched[0], freshness=self.policy.platform_max_age or dt.timedelta(0), now=at)
        return fetched

    async def verify_login(self, objects: ObjectStore, certificate: bytes, signature: bytes, expected: LoginMessage,
                           at: dt.datetime, max_age: dt.timedelta) -> CardLogin:
        """:meth:`verify` with the answers every worker shares: the platform operator's (:meth:`platform_status`)
        and the OCSP verdicts (:class:`~idp.login.ocsp.OcspCache`): a kept verdict is used instead of asking the
        responder, and a verdict from a response fetched now is kept for the next logins."""
        return await self._with_shared_answers(
            objects, certificate, expected.key, at,
            lambda platform, cached: self.verify(certificate, signature, expected, at, max_age, platform=platform,
                                                 ocsp_cached=cached))

    async def check_certificate(self, objects: ObjectStore, certificate: bytes, key: Purpose,
                                at: dt.datetime) -> CertificateStanding:
        """The path and revocation checks of :meth:`verify_login` on a certificate alone, before the card's PIN is
        asked for (:func:`keys.cardlogin.check_card_certificate`), with the same shared answers: a verdict fetched
        here serves the login's own check a moment later. Advice to the person only; the login is checked again."""
        return await self._with_shared_answers(
            objects, certificate, key, at,
            lambda platform, cached: check_card_certificate(
                certificate, key=key, trust=self.trust, at=at,
                revocation=self._revocation_inputs(certificate, key, at, platform=platform, ocsp_cached=cached)))

    async def _with_shared_answers(self, objects: ObjectStore, certificate: bytes, key: Purpose, at: dt.datetime,
                                   check: Callable[[_Platform, CachedOcspStatus | None], _Checked]) -> _Checked:
        """Run ``check`` (blocking, in a worker thread) with the platform operator's answer and the kept OCSP
        verdict; keep an OCSP verdict fetched by it (a revocation too) for every worker."""
        platform = await self.platform_status(objects, certificate, key, at)
        use_ocsp = platform is None and self.ocsp_timeout is not None and key is Purpose.AUTH
        cache, digest = OcspCache(objects), certificate_digest(certificate)
        cached = await cache.get(digest, at) if use_ocsp else None
        freshness = self.policy.platform_max_age or dt.timedelta(0)
        try:
            checked = await anyio.to_thread.run_sync(lambda: check(platform, cached))
        except Revoked as exc:
            if use_ocsp and cached is None:
                await cache.put(digest, exc.status, freshness=freshness, now=at)
            raise
        if use_ocsp and cached is None and isinstance(checked.revocation, RevocationStatus):
            await cache.put(digest, checked.revocation, freshness=freshness, now=at)
        return checked

    def _revocation_inputs(self, certificate: bytes, key: Purpose, at: dt.datetime, *, platform: _Platform,
                           ocsp_cached: CachedOcspStatus | None) -> RevocationInputs:
        """The revocation data of a check: the CRLs, and the operator's answer, a kept OCSP verdict or (for an
        authentication certificate with OCSP configured) a response fetched now. Blocking."""
        revocation = RevocationInputs(policy=self.policy, crls=self.crls.indexes(at) if self.crls else ())
        if platform is not None:
            return replace(revocation, platform_answer=platform[0], nonce=platform[1])
        if ocsp_cached is not None:
            return replace(revocation, ocsp_cached=[ocsp_cached])
        if self.ocsp_timeout is not None and key is Purpose.AUTH:
            path = self._path(certificate, key, at)
            fetched = None if path is None else fetch_ocsp(path, timeout=self.ocsp_timeout, outbound=self.outbound)
            if fetched is not None:
                return replace(revocation, ocsp_responses=[fetched[0]], nonce=fetched[1])
        return revocation

    def verify(self, certificate: bytes, signature: bytes, expected: LoginMessage, at: dt.datetime,
               max_age: dt.timedelta, *, platform: _Platform = None,
               ocsp_cached: CachedOcspStatus | None = None) -> CardLogin:
        """:func:`keys.cardlogin.verify_card_login` with this configuration's trust and CRLs, the OCSP responder
        when configured, and ``platform``: an operator's answer with the nonce sent for it (``None`` for a cached
        answer, whose nonce was checked when it was fetched). ``ocsp_cached``: a kept OCSP verdict, used instead of
        asking the responder. Blocking: run it in a worker thread."""
        revocation = self._revocation_inputs(certificate, expected.key, at, platform=platform, ocsp_cached=ocsp_cached)
        return verify_card_login(certificate, signature, expected=expected, trust=self.trust,
                                 revocation=revocation, at=at, max_age=max_age)


def _refusals(trust: TrustStore) -> str:
    """`` (refused: FILE: WHY; ...)`` for the roots ``trust`` refused (empty when there were none)."""
    if not trust.refused:
        return " (no certificate file in it)"
    listed = "; ".join(f"{r.source}: {r.detail}" for r in trust.refused[:_REFUSALS_SHOWN])
    more = len(trust.refused) - _REFUSALS_SHOWN
    return f" (refused: {listed}{f'; {more} more' if more > 0 else ''})"


_verifiers: dict[tuple[CardLoginSettings, bool], CardVerifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for(settings: Settings) -> CardVerifier:
    """The process's verifier for ``settings`` (built once; raises :class:`NotConfigured`)."""
    key = (settings.card_login, settings.test_mode)
    with _verifiers_lock:
        verifier = _verifiers.get(key)
        if verifier is None:
            verifier = _verifiers[key] = CardVerifier.from_settings(settings)
        return verifier


__all__ = ["CardVerifier", "CrlDirectory", "NotConfigured", "verifier_for"]
