"""The age credential: ``age_equal_or_over`` only, nothing else about the person.

``{"age_equal_or_over": {"18": bool, "20": bool}}`` with every entry selectively disclosable (18: adulthood under
the Civil Code since 2022-04; 20: alcohol, tobacco, public gambling). Derived from the birth date in the signing
certificate at issuance; the birth date itself is never in the credential.

* A partial birth date (``YYYY`` / ``YYYY-MM``) gives an entry only when every possible date agrees; an
  undecidable threshold is left out rather than guessed.
* A ``false`` entry goes stale on the birthday it turns ``true``: ``exp`` is capped at 00:00 JST of the earliest
  possible such birthday, besides the signing certificate's ``notAfter``.
"""

from __future__ import annotations

import datetime as dt

from credentials.catalog.validity import (
    age_at_least,
    anniversary,
    birth_date_bounds,
    capped_validity,
    jst_date,
    jst_midnight,
)
from credentials.sdjwt.issue import SD
from credentials.sdjwtvc import CredentialDraft

#: Ages attested by default.
AGE_THRESHOLDS = (18, 20)
#: Default lifetime of an age credential (before the caps).
AGE_LIFETIME = dt.timedelta(days=365)


def age_credential(
    birth_date: str,
    *,
    vct: str,
    at: dt.datetime,
    not_after: dt.datetime,
    lifetime: dt.timedelta = AGE_LIFETIME,
    thresholds: tuple[int, ...] = AGE_THRESHOLDS,
) -> CredentialDraft:
    """The age credential for someone born on ``birth_date`` (ISO, possibly partial), issued at ``at`` from a
    signing certificate valid until ``not_after``."""
    earliest, _ = birth_date_bounds(birth_date)
    today = jst_date(at)
    entries: dict[str, SD] = {}
    _, exp = capped_validity(at, lifetime, not_after)
    for years in sorted(set(thresholds)):
        answer = age_at_least(birth_date, years, today)
        if answer is True:
            entries[str(years)] = SD(True)
        elif answer is False:
            entries[str(years)] = SD(False)
            exp = min(exp, jst_midnight(anniversary(earliest, years)))
    if not entries:
        raise ValueError("the birth date is too imprecise to decide any threshold")
    return CredentialDraft(vct=vct, claims={"age_equal_or_over": entries}, iat=at, exp=exp)
