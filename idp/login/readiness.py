"""Whether card login can verify anyone: what ``GET /readyz`` (:mod:`idp.endpoints.health`) and the start-up log
report about the ``card_login`` settings, so a provider that cannot verify a card fails at start, not at the
person at the reader.

Not ready (a :attr:`Readiness.problems` entry, naming the setting) when every card login would fail:

* ``card_login.trust_dir`` is not set, not a directory or unreadable, or no root in it was admitted (each refused
  file is named with the reason, e.g. ``test root outside test mode`` for O=JPKI-TEST roots outside test mode,
  or a fingerprint that is not pinned);
* there is no revocation source (``card_login.crl_dir``, ``card_login.ocsp`` or ``card_login.platform_url``), or
  ``card_login.crl_dir`` is not a directory, or ``card_login.platform_jwks`` is unusable;
* only CRLs are configured and no admitted root has a fresh, authenticated CRL in ``card_login.crl_dir``
  (missing, stale past nextUpdate, or not signed by the root): revocation fails closed for every card. CRLs are
  written by a refresh job, so this state can come and go; the directory is re-read within
  :data:`idp.login.verifier.RESCAN_INTERVAL` seconds.

Ready, with :attr:`Readiness.warnings`: roots that were refused while others were admitted, and roots without a
fresh CRL while another root has one (cards under those roots cannot log in unless an online source answers).
With an online source (OCSP or a platform operator) missing CRLs are warnings only: the online answer decides
(OCSP for authentication certificates only, so OCSP without CRLs is a warning too: no signing-certificate login).

The answers name settings and files, never file system paths (``/readyz`` may be seen by a load balancer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import anyio.to_thread

from idp.login.verifier import CardVerifier, NotConfigured, verifier_for
from idp.settings import Settings
from keys.revocation import CrlIndex

#: The warning for OCSP without CRLs (:func:`idp.login.verifier.CardVerifier.verify` asks OCSP for the auth key only).
_OCSP_ONLY = ("not set, and OCSP answers for authentication certificates only: logins with the signing certificate "
              "(personal data) fail closed")


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong with a setting."""

    setting: str
    problem: str

    def as_dict(self) -> dict[str, str]:
        """As ``/readyz`` shows it."""
        return {"setting": self.setting, "problem": self.problem}


@dataclass(frozen=True, slots=True)
class Readiness:
    """What stops card login (``problems``: not ready) and what limits it (``warnings``)."""

    problems: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()

    @property
    def ready(self) -> bool:
        """Whether some card login can succeed."""
        return not self.problems


def _fresh(index: CrlIndex, verifier: CardVerifier, at: dt.datetime) -> bool:
    """As :func:`keys.revocation.check_crl` judges freshness under the verifier's policy."""
    policy = verifier.policy
    return (index.this_update <= at + policy.skew and index.next_update is not None
            and at <= index.next_update + policy.crl_grace)


def _crl_findings(verifier: CardVerifier, at: dt.datetime) -> Readiness:
    refused = tuple(Finding("card_login.trust_dir", f"{r.source} refused: {r.detail}") for r in verifier.trust.refused)
    if verifier.crls is None:
        if verifier.platform is None:  # OCSP only: it answers for authentication certificates alone
            return Readiness(warnings=(*refused, Finding("card_login.crl_dir", _OCSP_ONLY)))
        return Readiness(warnings=refused)
    issuers = [index.issuer for index in verifier.crls.indexes(at) if _fresh(index, verifier, at)]
    missing = [anchor for anchor in verifier.trust.anchors if anchor.certificate not in issuers]
    online = verifier.ocsp_timeout is not None or verifier.platform is not None
    if len(missing) == len(verifier.trust.anchors) and not online:
        return Readiness(problems=(Finding("card_login.crl_dir", "no fresh CRL of any admitted root: revocation "
                                                                 "fails closed for every card"),), warnings=refused)
    return Readiness(warnings=refused + tuple(Finding("card_login.crl_dir", f"no fresh CRL for root {a.label} "
                                                                      f"(SHA-256 {a.fingerprint[:16]}…)")
                                              for a in missing))


def _check(settings: Settings, at: dt.datetime) -> Readiness:
    try:
        verifier = verifier_for(settings)
    except NotConfigured as exc:
        return Readiness(problems=(Finding(exc.setting, exc.problem),))
    return _crl_findings(verifier, at)


async def card_login_readiness(settings: Settings, at: dt.datetime) -> Readiness:
    """Whether card login can verify anyone with ``settings`` at ``at`` (reads the trust and CRL directories in a
    worker thread; the verifier is built once per process, see :func:`idp.login.verifier.verifier_for`)."""
    return await anyio.to_thread.run_sync(_check, settings, at)


__all__ = ["Finding", "Readiness", "card_login_readiness"]
