"""OpenID Connect claims from the 4 basic facts of a signing certificate (OIDC Core 1.0 §5.1), computed at login.

============  ==================================================================================================
claim         value
============  ==================================================================================================
``name``      the name as certified (surname, U+3000, given name; 代替文字 as the certificate has them)
``birthdate`` ``YYYY-MM-DD``; ``YYYY`` when the certificate gives only the year or year and month (§5.1 allows
              ``YYYY``, not ``YYYY-MM``)
``gender``    ``male`` / ``female``; absent when the certificate says 3 (unknown)
``address``   ``{"formatted": address}`` (§5.1.1), from the prefecture, as certified
``age_over_18``, ``age_over_20``  true or false at the login time in Japan Standard Time; absent when a partial
              birth date leaves the answer open. A person reaches an age at the start of the birthday (年齢計算ニ
              関スル法律 with 民法 §143: the year ends at the end of the day before; a 29 February birthday falls on
              1 March in common years). The rule is ``credentials.catalog.validity.age_at_least``, the same
              function the age credential uses.
============  ==================================================================================================

These are personal data: they live in the interaction until the person has consented, and are released to a
relying party per claim only with consent. Nothing here is logged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from credentials.catalog.validity import JST, age_at_least, jst_date
from keys.x509.facts import BasicFacts, Sex

#: The ages answered (``age_over_NN``).
AGES: Final = (18, 20)
_GENDER: Final = {Sex.MALE: "male", Sex.FEMALE: "female"}


def claims_from_facts(facts: BasicFacts, at: dt.datetime) -> dict[str, Any]:
    """The releasable claims of ``facts`` at the login time ``at``."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    claims: dict[str, Any] = {
        "name": facts.name,
        "birthdate": facts.birth_date if len(facts.birth_date) == 10 else facts.birth_date[:4],
        "address": {"formatted": facts.address},
    }
    if facts.sex in _GENDER:
        claims["gender"] = _GENDER[facts.sex]
    today = jst_date(at)
    for years in AGES:
        answer = age_at_least(facts.birth_date, years, today)
        if answer is not None:
            claims[f"age_over_{years}"] = answer
    return claims


__all__ = ["AGES", "JST", "age_at_least", "claims_from_facts"]
