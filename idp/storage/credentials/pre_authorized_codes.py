"""Pre-authorized codes (OpenID4VCI 1.0 §3.5, §6.1; table ``pre_authorized_codes``): digests only, with the
Transaction Code's digest and a count of wrong attempts.

A code is live while unexpired, unused and below its attempt limit. Redeeming it is one conditional ``UPDATE … WHERE
consumed_at IS NULL … RETURNING``, so of concurrent redemptions in any process exactly one wins; a wrong Transaction
Code is counted in one statement too, and the last allowed one kills the code::

    codes = PreAuthorizedCodeStore(db)
    await codes.add(digest, issuance_id="i1", tx_code_digest=tx, max_attempts=3, expires_at=later, now=now)
    redemption = await codes.redeem(digest, tx, now)
    if redemption.outcome is RedemptionOutcome.REDEEMED:
        issuance_id = redemption.issuance_id
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass
from enum import StrEnum, auto
from typing import Final

from sqlalchemy import bindparam, case, insert, select, update

from idp.storage.columns import UtcDateTime
from idp.storage.tables import pre_authorized_codes
from servicekit.database import Database

_CODE = pre_authorized_codes.c
_NOW = bindparam("now", type_=UtcDateTime())
_LIVE = (_CODE.code_digest == bindparam("b_code"), _CODE.consumed_at.is_(None), _CODE.expires_at > _NOW,
         _CODE.attempts < _CODE.max_attempts)
_FIND: Final = select(_CODE.tx_code_digest).where(*_LIVE)
_REDEEM: Final = update(pre_authorized_codes).where(*_LIVE).values(consumed_at=_NOW).returning(_CODE.issuance_id)
# SET expressions see the row as it was: the attempt that reaches max_attempts also marks the code used.
_COUNT_WRONG: Final = update(pre_authorized_codes).where(*_LIVE).values(
    attempts=_CODE.attempts + 1, consumed_at=case((_CODE.attempts + 1 >= _CODE.max_attempts, _NOW), else_=None))


class RedemptionOutcome(StrEnum):
    """How a redemption ended (the token endpoint's error per outcome: OpenID4VCI 1.0 §6.3); values are the
    names in lower case."""

    REDEEMED = auto()
    #: Unknown, expired, used, or killed by wrong Transaction Codes.
    INVALID = auto()
    TX_CODE_REQUIRED = auto()
    TX_CODE_UNEXPECTED = auto()
    #: Counted; the last allowed wrong one kills the code.
    WRONG_TX_CODE = auto()


@dataclass(frozen=True, slots=True)
class Redemption:
    """The outcome, and the issuance the code was for when it was :attr:`~RedemptionOutcome.REDEEMED`."""

    outcome: RedemptionOutcome
    issuance_id: str | None = None


class PreAuthorizedCodeStore:
    """The pre-authorized codes, shared by every worker."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, code_digest: str, *, issuance_id: str, tx_code_digest: str | None, max_attempts: int,
                  expires_at: dt.datetime, now: dt.datetime) -> None:
        """Store a pre-authorized code (digests only)."""
        async with self._db.connection() as conn:
            await conn.execute(insert(pre_authorized_codes).values(
                code_digest=code_digest, issuance_id=issuance_id, tx_code_digest=tx_code_digest, attempts=0,
                max_attempts=max_attempts, created_at=now, expires_at=expires_at, consumed_at=None))

    async def redeem(self, code_digest: str, tx_code_digest: str | None, now: dt.datetime) -> Redemption:
        """Redeem the code once (see :class:`RedemptionOutcome`)."""
        key = {"b_code": code_digest, "now": now}
        async with self._db.connection() as conn:
            row = (await conn.execute(_FIND, key)).first()
            if row is None:
                return Redemption(RedemptionOutcome.INVALID)
            expected = row.tx_code_digest
            if expected is None and tx_code_digest is not None:
                return Redemption(RedemptionOutcome.TX_CODE_UNEXPECTED)
            if expected is not None and tx_code_digest is None:
                return Redemption(RedemptionOutcome.TX_CODE_REQUIRED)
            if expected is not None and not hmac.compare_digest(expected, str(tx_code_digest)):
                await conn.execute(_COUNT_WRONG, key)
                return Redemption(RedemptionOutcome.WRONG_TX_CODE)
            taken = (await conn.execute(_REDEEM, key)).first()
        if taken is None:
            return Redemption(RedemptionOutcome.INVALID)
        return Redemption(RedemptionOutcome.REDEEMED, str(taken.issuance_id))


__all__ = ["PreAuthorizedCodeStore", "Redemption", "RedemptionOutcome"]
