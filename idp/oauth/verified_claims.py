"""``verified_claims`` (OpenID Connect for Identity Assurance 1.0, final; Identity Assurance Schema Definition 1.0):
requested through the ``claims`` parameter, answered from a card signature the provider verified.

What a signing-certificate login (or a signing transaction) proves is one verification::

    {"trust_framework": "jp_aml", "time": <when the provider verified it>,
     "evidence": [{"type": "electronic_signature", "signature_type": SIGNATURE_TYPE,
                   "issuer": <issuer DN of the signing certificate>, "serial_number": <its serial, decimal>,
                   "created_at": <when the card signed>, "revocation": <the answer that confirmed validity>}]}

(犯罪収益移転防止法施行規則 §6(1)(i)(ワ): the signing certificate, a signature made with it, and its validity
confirmed.) The login keeps this as its :data:`VERIFIED_CLAIMS` "claim" (:func:`evidence_source`: references
only, never the certificate) until the person has consented; :func:`answer` then builds the released element.

Our choices where the specifications leave the value to the provider:

=========================  ==========================================================================================
member                     value
=========================  ==========================================================================================
``trust_framework``        ``jp_aml`` (the predefined value for the Act on Prevention of Transfer of Criminal Proceeds)
``signature_type``         :data:`SIGNATURE_TYPE`, ours (no JPKI value is registered): RSASSA-PKCS1-v1_5 by the
                           signing key (署名用電子証明書) of a My Number card
``issuer``                 the certificate's issuer DN, RFC 4514 text
``serial_number``          the certificate's serial number in decimal
``revocation`` (evidence)  ours (unknown members are allowed, IDA Schema §5.1 note): ``{"source": "crl"|"ocsp"|
                           "platform", "crl_issuer", "crl_number", "operator"}``: the revocation answer that
                           confirmed the certificate was valid (a CRL's issuer and number, or the platform
                           operator's id); returned only when the evidence request names it
``claims``                 :data:`CLAIMS_IN_VERIFIED_CLAIMS` (from the signing certificate's 4 basic facts;
                           ``birthdate`` only when the certificate gives the full date: the schema's date format)
=========================  ==========================================================================================

Request matching (IDA §5.3–5.6): each requested ``verified_claims`` element (an object, or an array whose elements
are answered independently) is answered only when every ``value``/``values``/``max_age`` under ``verification`` is
met, else omitted (no error); ``evidence`` entries are filters ORed by ``type.value``; unmatched or unavailable
claims under ``claims`` are omitted one by one. Only requested members are returned, except the members the
schema requires of what is returned (``trust_framework``; an evidence's ``type``, ``signature_type``, ``issuer``,
``serial_number``): asking for ``electronic_signature`` evidence asks for those. ``essential`` changes nothing
(§5.6.1)::

    answer({"verification": {"trust_framework": None}, "claims": {"name": None}}, source, facts, {"name"}, now)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, Final

from idp.errors import InvalidRequest

VERIFIED_CLAIMS: Final = "verified_claims"
TRUST_FRAMEWORK: Final = "jp_aml"
EVIDENCE_TYPE: Final = "electronic_signature"
#: Ours: an RSASSA-PKCS1-v1_5 signature by the signing key (署名用電子証明書) of a My Number card.
SIGNATURE_TYPE: Final = "urn:mynacard:signature-type:jpki-sign"
#: The claims a verified card signature can vouch for (OP metadata ``claims_in_verified_claims_supported``).
CLAIMS_IN_VERIFIED_CLAIMS: Final = ("name", "birthdate", "gender", "address")
#: Members of the evidence always returned with it (required by the schema for ``electronic_signature``).
_EVIDENCE_REQUIRED: Final = ("type", "signature_type", "issuer", "serial_number")
_EVIDENCE_OPTIONAL: Final = ("created_at", "revocation")
_VERIFICATION_DATES: Final = ("time",)
_MAX_ELEMENTS: Final = 8
_MAX_EVIDENCE: Final = 8


def metadata() -> dict[str, Any]:
    """OP metadata members (IDA §8)."""
    return {"trust_frameworks_supported": [TRUST_FRAMEWORK], "evidence_supported": [EVIDENCE_TYPE],
            "claims_in_verified_claims_supported": list(CLAIMS_IN_VERIFIED_CLAIMS)}


def rfc3339(at: dt.datetime) -> str:
    """``at`` as the schema's date-time, in UTC (IDA §9: UTC preferred)."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def evidence_source(*, issuer: str, serial_number: int, created_at: dt.datetime, verified_at: dt.datetime,
                    revocation: Mapping[str, Any]) -> dict[str, Any]:
    """What a verified card signature keeps for :func:`answer`: references, never the certificate. ``formatted``
    is what the consent page shows."""
    return {"issuer": issuer, "serial_number": str(serial_number), "created_at": rfc3339(created_at),
            "time": rfc3339(verified_at), "revocation": {k: v for k, v in revocation.items() if v is not None},
            "formatted": f"{issuer} / {serial_number}"}


# -- parsing the request (what the claims parameter may hold) ---------------------------------------------------

def _check_constraint(path: str, member: object) -> None:
    """A leaf of the request: null or ``{essential, value | values, max_age, purpose}`` (OIDC Core §5.5.1,
    IDA §5.4)."""
    if member is None:
        return
    if not isinstance(member, dict):
        raise InvalidRequest(f"claims: {path} must be null or an object (OIDC Core §5.5.1)")
    if "value" in member and "values" in member:
        raise InvalidRequest(f"claims: {path}: value or values, not both")
    if "values" in member and (not isinstance(member["values"], list) or not member["values"]):
        raise InvalidRequest(f"claims: {path}.values must be a non-empty array")
    max_age = member.get("max_age")
    if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0):
        raise InvalidRequest(f"claims: {path}.max_age must be a non-negative integer (IDA §5.4.2)")
    if not isinstance(member.get("essential", False), bool):
        raise InvalidRequest(f"claims: {path}.essential must be true or false")


def _check_object(path: str, member: object) -> dict[str, Any]:
    if not isinstance(member, dict):
        raise InvalidRequest(f"claims: {path} must be an object (IDA §5)")
    return member


def _check_element(path: str, element: object) -> None:
    element = _check_object(path, element)
    verification = _check_object(f"{path}.verification", element.get("verification"))
    claims = _check_object(f"{path}.claims", element.get("claims", {}))
    for name, member in claims.items():
        _check_constraint(f"{path}.claims.{name}", member)
    evidence = verification.get("evidence")
    if evidence is not None:
        if not isinstance(evidence, list) or not evidence or len(evidence) > _MAX_EVIDENCE:
            raise InvalidRequest(f"claims: {path}.verification.evidence must be an array of 1 to {_MAX_EVIDENCE}")
        for index, entry in enumerate(evidence):
            for name, member in _check_object(f"{path}.verification.evidence[{index}]", entry).items():
                if name != "type" or member is not None:
                    _check_nested(f"{path}.verification.evidence[{index}].{name}", member)
    for name, member in verification.items():
        if name != "evidence":
            _check_nested(f"{path}.verification.{name}", member)


def _check_nested(path: str, member: object) -> None:
    """A member under ``verification``: a leaf, or an object of members (``assurance_process``, …), or an array
    of templates (``check_details``, …)."""
    if isinstance(member, dict) and not ({"essential", "value", "values", "max_age", "purpose"} & member.keys()):
        for name, inner in member.items():
            _check_nested(f"{path}.{name}", inner)
    elif isinstance(member, list):
        for index, inner in enumerate(member[:_MAX_EVIDENCE]):
            _check_nested(f"{path}[{index}]", inner)
    else:
        _check_constraint(path, member)


def check_request(member: object, target: str) -> None:
    """Raise :class:`InvalidRequest` unless ``member`` is a well-formed ``verified_claims`` request: an object
    with ``verification`` (and ``claims``), or an array of 1 to 8 of them."""
    path = f"{target}.{VERIFIED_CLAIMS}"
    if isinstance(member, list):
        if not member or len(member) > _MAX_ELEMENTS:
            raise InvalidRequest(f"claims: {path} must be an object or an array of 1 to {_MAX_ELEMENTS} objects")
        for index, element in enumerate(member):
            _check_element(f"{path}[{index}]", element)
    else:
        _check_element(path, member)


def requested_claim_names(member: object) -> tuple[str, ...]:
    """The end-user claims a ``verified_claims`` request names (each needs the person's consent)."""
    elements = member if isinstance(member, list) else [member]
    return tuple(dict.fromkeys(name for element in elements if isinstance(element, dict)
                               for name in (element.get("claims") or {})))


# -- answering -------------------------------------------------------------------------------------------------

def _matches(constraint: object, actual: object, now: dt.datetime) -> bool:
    """Whether ``actual`` meets ``value``/``values``/``max_age`` (IDA §5.4); ``None`` meets only no constraint."""
    if not isinstance(constraint, dict):
        return True
    if "value" in constraint and actual != constraint["value"]:
        return False
    if "values" in constraint and actual not in constraint["values"]:
        return False
    if constraint.get("max_age") is not None:
        try:
            at = dt.datetime.fromisoformat(str(actual))
        except ValueError:  # max_age on something that is not a time: not met
            return False
        elapsed = now - (at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC))  # a date alone: UTC
        return elapsed.total_seconds() <= int(constraint["max_age"])
    return True


def _is_constrained(member: object) -> bool:
    return isinstance(member, dict) and bool({"value", "values", "max_age"} & member.keys())


def _evidence(templates: list[Any], source: Mapping[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """Our evidence, if one of the ``templates`` (ORed) takes it: its ``type`` is ours and every constraint is
    met; with the members that template asks for."""
    ours = {"type": EVIDENCE_TYPE, "signature_type": SIGNATURE_TYPE, "issuer": source["issuer"],
            "serial_number": source["serial_number"], "created_at": source["created_at"],
            "revocation": source.get("revocation")}
    for template in templates:
        if not _matches(template.get("type"), EVIDENCE_TYPE, now):
            continue
        if any(_is_constrained(member) and (name not in ours or not _matches(member, ours[name], now))
               for name, member in template.items()):
            continue
        wanted = [*_EVIDENCE_REQUIRED, *(n for n in _EVIDENCE_OPTIONAL if n in template and ours[n] is not None)]
        return {name: ours[name] for name in wanted}
    return None


def _verification(request: Mapping[str, Any], source: Mapping[str, Any], now: dt.datetime) -> dict[str, Any] | None:
    """The ``verification`` element asked for, or ``None`` when a constraint under it is not met (IDA §5.6.3)."""
    if not _matches(request.get("trust_framework"), TRUST_FRAMEWORK, now):
        return None
    verification: dict[str, Any] = {"trust_framework": TRUST_FRAMEWORK}
    for name, member in request.items():
        if name in ("trust_framework", "evidence"):
            continue
        if name in _VERIFICATION_DATES:
            if not _matches(member, source[name], now):
                return None
            verification[name] = source[name]
        elif _has_constraint(member):
            return None  # a requirement about data we do not have (assurance_level, …) is not met
    if "evidence" in request:
        evidence = _evidence(request["evidence"], source, now)
        if evidence is None:
            return None
        verification["evidence"] = [evidence]
    return verification


def _has_constraint(member: object) -> bool:
    if isinstance(member, dict):
        return _is_constrained(member) or any(_has_constraint(inner) for inner in member.values())
    if isinstance(member, list):
        return any(_has_constraint(inner) for inner in member)
    return False


def _claims(request: Mapping[str, Any], available: Mapping[str, Any], approved: Collection[str],
            now: dt.datetime) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for name, member in (request.get("claims") or {}).items():
        value = available.get(name)
        if name not in CLAIMS_IN_VERIFIED_CLAIMS or name not in approved or value is None:
            continue
        if name == "birthdate" and len(str(value)) != 10:
            continue  # a year only: not a full date (the schema's birthdate)
        if _matches(member, value, now):
            claims[name] = value
    return claims


def answer(request: object, source: Mapping[str, Any] | None, available: Mapping[str, Any],
           approved: Collection[str], now: dt.datetime) -> Any:
    """The ``verified_claims`` released for ``request`` (an object or an array: answered in kind), from a
    verified signature's ``source`` (:func:`evidence_source`) and the login's ``available`` claims, of which only
    ``approved`` ones; ``None`` when nothing can be answered (then the claim is omitted)."""
    if source is None:
        return None
    elements = request if isinstance(request, list) else [request]
    answered = []
    for element in elements:
        if not isinstance(element, dict):
            continue
        verification = _verification(element.get("verification") or {}, source, now)
        if verification is not None:
            answered.append({"verification": verification, "claims": _claims(element, available, approved, now)})
    if not answered:
        return None
    return answered if isinstance(request, list) else answered[0]


__all__ = ["CLAIMS_IN_VERIFIED_CLAIMS", "EVIDENCE_TYPE", "SIGNATURE_TYPE", "TRUST_FRAMEWORK", "VERIFIED_CLAIMS",
           "answer", "check_request", "evidence_source", "metadata", "requested_claim_names", "rfc3339"]
