"""DCQL (OpenID4VP 1.0 §6, §7) for SD-JWT VC credentials: which held credentials and claims to present.

:func:`match_dcql` is pure: a query and the Holder's credentials in, the selections out. Rules implemented:

* query structure (§6.1 to §6.3; ``invalid_query``): non-empty ``credentials`` with unique ids of
  ``[A-Za-z0-9_-]``, ``format``, ``meta`` (``vct_values`` for ``dc+sd-jwt``), optional ``multiple``,
  ``require_cryptographic_holder_binding`` (default ``true``), ``trusted_authorities``, ``claims`` (paths of strings,
  ``null`` and non-negative integers; ``values`` of strings, integers, booleans) and ``claim_sets`` (only with
  ``claims``, naming claim ids); ``credential_sets`` whose options name credential query ids. Unknown members
  are ignored.
* a credential matches a Credential Query (§6.4.2) when its format is ``dc+sd-jwt``, its ``vct`` is in
  ``vct_values`` (exact match: type inheritance is not resolved), it has ``cnf.jwk`` when binding is required, one
  of the ``trusted_authorities`` matches (type ``aki``: the AuthorityKeyIdentifier of a certificate in its ``x5c``;
  other types cannot be evaluated here and never match), and its claims satisfy the query (§6.4.1): all ``claims``
  without ``claim_sets``, else the first satisfiable ``claim_sets`` option; ``values`` match type and value
  exactly (``true`` is not ``1``). No ``claims``: only the mandatory parts are presented.
* credential selection (§6.4.2): without ``credential_sets`` every query must be matched; otherwise each required
  set by the first satisfiable option and each optional set when one is satisfiable. ``multiple: false`` presents
  the first matching credential. A required part that cannot be satisfied: ``query_not_satisfied``, and nothing
  is presented.
* claims path pointers (§7.1, JSON processing) select in the processed credential; releasing a claim releases
  the Disclosures on its path and inside it (:meth:`~credentials.sdjwt.HeldSdJwt.present`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from credentials.errors import CredentialReason, InvalidQuery
from credentials.sdjwt.holder import HeldSdJwt
from credentials.sdjwt.process import Path
from keys.errors import VerificationError
from keys.jose.b64 import b64_decode, b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.trust import authority_key_id

#: The Credential Format Identifier of SD-JWT VC (OpenID4VP 1.0 Appendix B.3).
SD_JWT_VC_FORMAT = "dc+sd-jwt"
_ID = re.compile(r"[A-Za-z0-9_-]+")
PathPointer = tuple[str | int | None, ...]


@dataclass(frozen=True, slots=True)
class ClaimsQuery:
    """One entry of ``claims`` (§6.3)."""

    id: str | None
    path: PathPointer
    values: tuple[str | int | bool, ...] | None


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """One entry of ``credentials`` (§6.1)."""

    id: str
    format: str
    multiple: bool
    vct_values: tuple[str, ...]
    require_binding: bool
    trusted_authorities: tuple[tuple[str, tuple[str, ...]], ...] | None
    claims: tuple[ClaimsQuery, ...] | None
    claim_sets: tuple[tuple[str, ...], ...] | None


@dataclass(frozen=True, slots=True)
class CredentialSetQuery:
    """One entry of ``credential_sets`` (§6.2)."""

    options: tuple[tuple[str, ...], ...]
    required: bool


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    """A validated DCQL query."""

    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None

    @classmethod
    def parse(cls, query: object) -> DcqlQuery:
        """Validate ``query`` (a decoded ``dcql_query``) or raise ``invalid_query``."""
        root = _object(query, "dcql_query")
        credentials = tuple(_credential_query(c) for c in _array(root.get("credentials"), "credentials"))
        ids = [c.id for c in credentials]
        if len(set(ids)) != len(ids):
            raise _invalid("two Credential Queries share an id")
        sets = None
        if "credential_sets" in root:
            sets = tuple(_credential_set(s, set(ids)) for s in _array(root["credential_sets"], "credential_sets"))
        return cls(credentials, sets)


@dataclass(frozen=True, slots=True)
class Selection:
    """One credential to present for one Credential Query: its index in the Holder's list, the claim paths to
    release, the SD-JWT to send (before any KB-JWT) and whether a KB-JWT must be added."""

    query_id: str
    credential: int
    paths: tuple[Path, ...]
    presentation: str
    key_binding: bool


def match_dcql(
    query: Mapping[str, Any] | DcqlQuery, credentials: Sequence[HeldSdJwt]
) -> dict[str, tuple[Selection, ...]]:
    """The presentations to send, keyed by Credential Query id (the ``vp_token`` keys); rules in the module
    docstring."""
    parsed = query if isinstance(query, DcqlQuery) else DcqlQuery.parse(query)
    matches = {q.id: _matches(q, credentials) for q in parsed.credentials}
    chosen = chosen_queries(parsed, {i for i, found in matches.items() if found})
    return {i: matches[i] for i in chosen}


def chosen_queries(query: DcqlQuery, available: Collection[str]) -> list[str]:
    """The Credential Query ids to present when credentials exist for the ``available`` ones (§6.4.2): every
    query without ``credential_sets``, else the first satisfiable option of each set (required sets must have
    one). Raises ``query_not_satisfied`` when a required part is missing. Wallets use it to choose, Verifiers to
    check that a VP Token answers the whole query."""
    if query.credential_sets is None:
        chosen = [q.id for q in query.credentials]
        if missing := [i for i in chosen if i not in available]:
            raise InvalidQuery(CredentialReason.QUERY_NOT_SATISFIED, f"no credential for {', '.join(missing)}")
        return chosen
    chosen = []
    for credential_set in query.credential_sets:
        option = next((o for o in credential_set.options if all(i in available for i in o)), None)
        if option is None and credential_set.required:
            raise InvalidQuery(CredentialReason.QUERY_NOT_SATISFIED, "a required credential set is not satisfied")
        chosen.extend(i for i in option or () if i not in chosen)
    return chosen


def _matches(query: CredentialQuery, credentials: Sequence[HeldSdJwt]) -> tuple[Selection, ...]:
    found: list[Selection] = []
    for index, held in enumerate(credentials):
        paths = _credential_paths(query, held)
        if paths is None:
            continue
        found.append(Selection(query.id, index, paths, held.present(paths), query.require_binding))
        if not query.multiple:
            break
    return tuple(found)


def _credential_paths(query: CredentialQuery, held: HeldSdJwt) -> tuple[Path, ...] | None:
    """The claim paths to release for ``query`` from ``held``, or ``None`` when it does not match."""
    claims = held.claims
    if query.format != SD_JWT_VC_FORMAT or claims.get("vct") not in query.vct_values:
        return None
    cnf = claims.get("cnf")
    if query.require_binding and not (isinstance(cnf, Mapping) and isinstance(cnf.get("jwk"), Mapping)):
        return None
    if query.trusted_authorities is not None and not trusted_by(query.trusted_authorities, held.jwt):
        return None
    return claim_paths(query, claims)


def claim_paths(query: CredentialQuery, claims: Mapping[str, Any]) -> tuple[Path, ...] | None:
    """The concrete claim paths ``query`` selects in processed ``claims`` (§6.4.1): every ``claims`` entry, or the
    first satisfiable ``claim_sets`` option; ``()`` without ``claims``; ``None`` when the claims do not satisfy it.
    Wallets use it to choose what to release, Verifiers to check what was released."""
    if query.claims is None:
        return ()
    selected = {c: _select(c, claims) for c in query.claims}
    if query.claim_sets is None:
        if any(paths is None for paths in selected.values()):
            return None
        return tuple(p for paths in selected.values() for p in paths or ())
    by_id = {c.id: c for c in query.claims}
    for option in query.claim_sets:
        if all(selected[by_id[i]] is not None for i in option):
            return tuple(p for i in option for p in selected[by_id[i]] or ())
    return None


def _select(claim: ClaimsQuery, root: Mapping[str, Any]) -> tuple[Path, ...] | None:
    """Process a claims path pointer (§7.1.1) and apply ``values``: the selected concrete paths, or ``None``."""
    selection: list[tuple[Path, Any]] = [((), root)]
    for component in claim.path:
        step: list[tuple[Path, Any]] = []
        for path, value in selection:
            if isinstance(component, str):
                if not isinstance(value, Mapping):
                    return None
                if component in value:
                    step.append(((*path, component), value[component]))
            elif component is None:
                if not isinstance(value, list):
                    return None
                step.extend(((*path, i), v) for i, v in enumerate(value))
            else:
                if not isinstance(value, list):
                    return None
                if component < len(value):
                    step.append(((*path, component), value[component]))
        selection = step
    if claim.values is not None:
        selection = [(p, v) for p, v in selection if any(_same(v, w) for w in claim.values)]
    return tuple(p for p, _ in selection) or None


def _same(value: Any, wanted: str | int | bool) -> bool:
    return type(value) is type(wanted) and value == wanted


def trusted_by(authorities: tuple[tuple[str, tuple[str, ...]], ...], jwt: str) -> bool:
    """Whether the Issuer-signed ``jwt`` matches one of ``trusted_authorities`` (§6.1.1): type ``aki``, the
    base64url AuthorityKeyIdentifier of a certificate in its ``x5c``; other types never match."""
    akis = set()
    try:
        chain = loads_object(b64url_decode(jwt.split(".", 1)[0], "JWS header"), what="JWS header").get("x5c")
        for entry in chain if isinstance(chain, list) else ():
            key_id = authority_key_id(x509.load_der_x509_certificate(b64_decode(entry, "x5c certificate")))
            if key_id is not None:
                akis.add(b64url_encode(key_id))
    except (VerificationError, ValueError):  # an unreadable chain matches no authority
        return False
    return any(kind == "aki" and akis.intersection(values) for kind, values in authorities)


def _credential_query(value: object) -> CredentialQuery:
    query = _object(value, "Credential Query")
    query_id = _identifier(query.get("id"), "Credential Query id")
    fmt = query.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise _invalid("format is not a string")
    meta = _object(query.get("meta"), "meta")
    vct_values: tuple[str, ...] = ()
    if fmt == SD_JWT_VC_FORMAT:
        vct_values = tuple(_string(v, "vct_values") for v in _array(meta.get("vct_values"), "vct_values"))
    multiple = _boolean(query.get("multiple", False), "multiple")
    binding = _boolean(query.get("require_cryptographic_holder_binding", True), "require_cryptographic_holder_binding")
    authorities = None
    if "trusted_authorities" in query:
        authorities = tuple(
            (_string(_object(a, "trusted_authorities entry").get("type"), "type"),
             tuple(_string(v, "values") for v in _array(_object(a, "entry").get("values"), "values")))
            for a in _array(query["trusted_authorities"], "trusted_authorities")
        )
    claims = None
    if "claims" in query:
        claims = tuple(_claims_query(c, "claim_sets" in query) for c in _array(query["claims"], "claims"))
        claim_ids = [c.id for c in claims if c.id is not None]
        if len(set(claim_ids)) != len(claim_ids):
            raise _invalid("two claims share an id")
    claim_sets = None
    if "claim_sets" in query:
        if claims is None:
            raise _invalid("claim_sets without claims")
        known = {c.id for c in claims}
        claim_sets = tuple(
            tuple(_known(_identifier(i, "claim id"), known) for i in _array(option, "claim set"))
            for option in _array(query["claim_sets"], "claim_sets")
        )
    return CredentialQuery(query_id, fmt, multiple, vct_values, binding, authorities, claims, claim_sets)


def _claims_query(value: object, id_required: bool) -> ClaimsQuery:
    claim = _object(value, "Claims Query")
    claim_id = _identifier(claim["id"], "claim id") if "id" in claim else None
    if id_required and claim_id is None:
        raise _invalid("claims need ids when claim_sets is present")
    path: list[str | int | None] = []
    for component in _array(claim.get("path"), "path"):
        index = isinstance(component, int) and not isinstance(component, bool) and component >= 0
        if not (component is None or isinstance(component, str) or index):
            raise _invalid("a path component is a string, null or a non-negative integer")
        path.append(component)
    values = None
    if "values" in claim:
        values = tuple(_value(v) for v in _array(claim["values"], "values"))
    return ClaimsQuery(claim_id, tuple(path), values)


def _credential_set(value: object, ids: set[str]) -> CredentialSetQuery:
    credential_set = _object(value, "Credential Set Query")
    options = tuple(
        tuple(_known(_string(i, "option"), ids) for i in _array(option, "option"))
        for option in _array(credential_set.get("options"), "options")
    )
    return CredentialSetQuery(options, _boolean(credential_set.get("required", True), "required"))


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(f"{what} is not an object")
    return value


def _array(value: object, what: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _invalid(f"{what} is not a non-empty array")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{what} holds a non-string")
    return value


def _boolean(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(f"{what} is not a boolean")
    return value


def _identifier(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise _invalid(f"{what} is not a non-empty string of [A-Za-z0-9_-]")
    return value


def _known(value: str, known: set[str] | set[str | None]) -> str:
    if value not in known:
        raise _invalid(f"{value!r} names no entry of the query")
    return value


def _value(value: object) -> str | int | bool:
    if isinstance(value, str | bool) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _invalid("values holds something other than strings, integers and booleans")


def _invalid(detail: str) -> InvalidQuery:
    return InvalidQuery(CredentialReason.INVALID_QUERY, detail)
