"""Validity and age arithmetic shared by the JPKI-backed credentials (pure: time is an argument).

* A credential never outlives the signing certificate it was derived from: ``exp <= notAfter`` (the certificate
  is revoked when any basic fact changes, and expires at the holder's fifth birthday after issuance).
* Ages follow Japanese law (年齢計算ニ関スル法律, 民法 §143): a person reaches age N when the day before the N-th
  anniversary of birth ends, i.e. at 00:00 JST on the birthday; someone born on 29 February reaches it at 00:00
  on 1 March in common years. Birth dates may be partial (``YYYY`` or ``YYYY-MM``, the certificate's zeros for
  unknown parts); :func:`birth_date_bounds` gives the earliest and latest possible date.

:func:`age_at_least` is the one owner of this rule: the provider's ``age_over_NN`` claims (``idp.login.claims``)
and the age credential (:mod:`credentials.catalog.age`) both call it, so an ID token and a credential issued at
the same instant cannot disagree::

    age_at_least("2008-02-29", 18, jst_date(at))  # True from 2026-03-01 00:00 JST; None when undecidable
"""

from __future__ import annotations

import calendar
import datetime as dt

#: Japan Standard Time, in which birthdays turn.
JST = dt.timezone(dt.timedelta(hours=9), "JST")


def capped_validity(at: dt.datetime, lifetime: dt.timedelta, not_after: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``(iat, exp)`` for a credential issued at ``at``: ``exp = min(at + lifetime, not_after)``.

    Raises :class:`ValueError` when the certificate is no longer valid at ``at``.
    """
    if at.tzinfo is None or not_after.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    if lifetime <= dt.timedelta(0):
        raise ValueError("lifetime must be positive")
    if not_after <= at:
        raise ValueError("the signing certificate has expired: no credential can be derived from it")
    return at, min(at + lifetime, not_after)


def birth_date_bounds(iso: str) -> tuple[dt.date, dt.date]:
    """The earliest and latest possible birth date for ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``."""
    parts = [int(p) for p in iso.split("-")]
    if len(parts) == 3:
        day = dt.date(*parts)
        return day, day
    if len(parts) == 2:
        year, month = parts
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    if len(parts) == 1:
        return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)
    raise ValueError("not an ISO 8601 date, year-month or year")


def anniversary(birth: dt.date, years: int) -> dt.date:
    """The day on which a person born on ``birth`` reaches age ``years`` (29 February: 1 March in common years)."""
    year = birth.year + years
    if (birth.month, birth.day) == (2, 29) and not calendar.isleap(year):
        return dt.date(year, 3, 1)
    return birth.replace(year=year)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years of age on ``day``."""
    years = day.year - birth.year
    return years if day >= anniversary(birth, years) else years - 1


def age_at_least(birth_date: str, years: int, today: dt.date) -> bool | None:
    """Whether someone born on ``birth_date`` (ISO, possibly partial) is at least ``years`` old on ``today``, the
    calendar date in Japan; ``None`` when a partial birth date leaves the answer open."""
    earliest, latest = birth_date_bounds(birth_date)
    if age_on(latest, today) >= years:
        return True
    if age_on(earliest, today) < years:
        return False
    return None


def jst_date(at: dt.datetime) -> dt.date:
    """The calendar date in Japan at the instant ``at``."""
    return at.astimezone(JST).date()


def jst_midnight(day: dt.date) -> dt.datetime:
    """00:00 JST on ``day``, as an aware datetime."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=JST)
