"""VP Token validation (OpenID4VP 1.0 §8.6) for ``dc+sd-jwt`` presentations (Appendix B.3).

:func:`verify_vp_token` checks, in the order of §8.6:

1. the VP Token's shape (§8.1): an object whose keys are Credential Query ids of the request
   (``presentation_not_requested`` otherwise), each a non-empty array of presentation strings, exactly one unless
   the query allows ``multiple`` (``vp_token_malformed``);
2. each presentation with :func:`credentials.verify.verify_credential`: issuer signature and ``x5c`` chain,
   Disclosures, ``exp``/``nbf``, the KB-JWT with ``aud`` = the full Client Identifier and ``nonce`` = the request's
   (Appendix B.3.6; required unless the query set ``require_cryptographic_holder_binding`` to false), the
   status list; then what the query asks of it (§14.5: never trust the Wallet to have applied the query): ``vct``
   among the query's ``vct_values`` (``wrong_vct``), its ``trusted_authorities`` (``untrusted_root``), its
   claims (``query_not_satisfied``);
3. the whole query (§6.4.2): every required Credential Query or credential set answered by a valid presentation.

An invalid presentation is discarded (§8.6); if the query is then unsatisfied the VP Token is rejected with the
first presentation's failure reason (so a bad KB-JWT is reported as such, not as a missing credential).

Only what the query asked for is returned (:class:`PresentedCredential`): claims a Wallet disclosed beyond the
query are dropped here, never stored or handed to the relying party.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from credentials.dcql import CredentialQuery, DcqlQuery, chosen_queries, claim_paths, trusted_by
from credentials.errors import CredentialError, CredentialReason
from credentials.oid4vp.errors import PresentationError, VerifierReason
from credentials.sdjwt.compact import CompactSdJwt
from credentials.sdjwt.process import Path
from credentials.status.check import StatusChecker
from credentials.verify import VerifiedCredential, VerifierPolicy, verify_credential
from keys.errors import Reason


@dataclass(frozen=True, slots=True)
class PresentedCredential:
    """One verified presentation as the relying party gets it: its type, issuer, validity, whether it was key
    bound and status-checked, and only the requested claims that were disclosed."""

    query_id: str
    vct: str
    issuer: str | None
    claims: Mapping[str, Any]
    key_binding: bool
    status_checked: bool
    expires_at: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the relying-party API."""
        return {"vct": self.vct, "iss": self.issuer, "claims": _plain(self.claims), "key_binding": self.key_binding,
                "status_checked": self.status_checked, "exp": self.expires_at}


def verify_vp_token(
    vp_token: Mapping[str, Any],
    *,
    query: DcqlQuery,
    policy: VerifierPolicy,
    client_id: str,
    nonce: str,
    at: dt.datetime,
    status: StatusChecker | None,
) -> dict[str, tuple[PresentedCredential, ...]]:
    """The verified presentations by Credential Query id (steps in the module docstring)."""
    queries = {q.id: q for q in query.credentials}
    if unknown := set(vp_token) - queries.keys():
        raise PresentationError(VerifierReason.PRESENTATION_NOT_REQUESTED,
                                f"{len(unknown)} vp_token entr{'y' if len(unknown) == 1 else 'ies'} answer no query")
    verified: dict[str, tuple[PresentedCredential, ...]] = {}
    failures: list[PresentationError] = []
    for query_id, presentations in vp_token.items():
        credential_query = queries[query_id]
        accepted = []
        for presentation in _presentations(presentations, credential_query):
            try:
                accepted.append(_verify_one(presentation, credential_query, policy, client_id, nonce, at, status))
            except PresentationError as exc:
                failures.append(exc)
        if accepted:
            verified[query_id] = tuple(accepted)
    try:
        chosen = chosen_queries(query, verified.keys())
    except CredentialError as exc:
        raise failures[0] if failures else PresentationError.of(exc) from None
    return {i: verified[i] for i in chosen if i in verified}


def _presentations(value: object, query: CredentialQuery) -> Sequence[str]:
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise PresentationError(VerifierReason.VP_TOKEN_MALFORMED, "a vp_token entry is a non-empty array of strings")
    if len(value) > 1 and not query.multiple:
        raise PresentationError(VerifierReason.VP_TOKEN_MALFORMED, "several presentations for a query without multiple")
    return value


def _verify_one(
    presentation: str, query: CredentialQuery, policy: VerifierPolicy, client_id: str, nonce: str,
    at: dt.datetime, status: StatusChecker | None,
) -> PresentedCredential:
    vcts = frozenset(query.vct_values) if policy.vcts is None else policy.vcts & frozenset(query.vct_values)
    try:
        binding = query.require_binding or CompactSdJwt.parse(presentation, policy.limits).kb_jwt is not None
        checked = dataclasses.replace(policy, vcts=vcts, require_key_binding=binding)
        credential = verify_credential(presentation, policy=checked, at=at, audience=client_id, nonce=nonce,
                                       status=status)
    except CredentialError as exc:
        raise PresentationError.of(exc) from None
    if query.trusted_authorities is not None and not trusted_by(query.trusted_authorities,
                                                                presentation.split("~", 1)[0]):
        raise PresentationError(Reason.UNTRUSTED_ROOT, "the issuer is not among the query's trusted_authorities")
    paths = claim_paths(query, credential.claims)
    if paths is None:
        raise PresentationError(CredentialReason.QUERY_NOT_SATISFIED, "the presentation lacks requested claims")
    return PresentedCredential(
        query_id=query.id, vct=credential.vct, issuer=credential.issuer, claims=_project(credential, paths),
        key_binding=credential.key_binding is not None, status_checked=credential.status is not None,
        expires_at=_int(credential.claims.get("exp")),
    )


def _project(credential: VerifiedCredential, paths: Sequence[Path]) -> Mapping[str, Any]:
    """The claims at ``paths`` (and nothing else) of a verified credential. A path through an array keeps that
    array as presented (its undisclosed elements were already removed)."""
    result: dict[str, Any] = {}
    for path in paths:
        source: Any = credential.claims
        target = result
        for depth, step in enumerate(path):
            last = depth == len(path) - 1
            if isinstance(step, int) or not isinstance(source, Mapping):
                break
            source = source[step]
            if last or not isinstance(source, Mapping):
                target[step] = copy.deepcopy(_plain(source))
                break
            nested = target.setdefault(step, {})
            if not isinstance(nested, dict):  # an ancestor path already took the whole value
                break
            target = nested
    return MappingProxyType(result)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

