"""Accounts with several card keys: the key → account table (generic ``objects`` table, no migration).

The model, and why (README "Account model"):

* A **key id** is what :func:`keys.cardlogin.account_id_for` derives from a card key (key kind + SPKI): not
  personal data, no certificate. A key that was never linked is its own account, so every ``sub`` given before
  linking existed stays what it was.
* An **account** is a set of key ids named by the id of its FIRST key. When a second key joins (the card's other
  key, :mod:`keys.cardlink`; a renewed card's key, :mod:`idp.login.renewal`), the account keeps its id, so the
  pairwise ``sub`` (:func:`idp.oauth.subject.subject_for`, computed from the account id) is unchanged at every
  client and the joining key logs in to it from then on. ``sub`` differs across unrelated clients as before.
* A key belongs to at most one account: joining is refused when the joining key is already part of any account
  (linked to another, or the first key of a linked account): two accounts with history are never merged
  silently (``key_already_linked``). Both rows are written with one conditional statement each
  (:meth:`~idp.storage.ObjectStore.remember_once`), so of two concurrent links of one key exactly one wins.
* **Unlink** removes a joining key: it becomes its own account again and gets back the ``sub`` it had before it
  joined. The account's first key cannot leave its account (its id IS the account's id: ``first_key``), and a
  key in no account cannot be unlinked (``not_linked``). It is an operator action (``idp accounts unlink``,
  README "Account model").

What a link does to what the joining key had before (the safe minimum): the joining key's consents, sessions,
grants and credentials stay bound to the joining key's OLD account id, which no login reaches any more: its
consents are not carried over (the person is asked again; they expire by ``authorization.consent_ttl``); the
browser that links gets a session of the account (a login of another account ends the old session,
:func:`idp.oauth.session.open_session`); grants and sessions of the old account in other browsers keep
their old ``sub`` until they expire; credentials issued from a certificate follow that certificate
(revocation), not the account. An unlink leaves the account's consents, sessions and grants in place (they
were the account's) and the removed key starts with nothing.

=====================  ============  ===========================================================================
kind                   id            payload
=====================  ============  ===========================================================================
``AccountKey``         key id        ``account`` (the account's id), ``linked_at`` (seconds), ``via``
                                     (``card`` | ``operator`` | ``consent``), ``assurance`` (the verified_claims
                                     evidence of the signing certificate that linked, references only; or absent)
=====================  ============  ===========================================================================

The first key of a linked account has a row naming itself; a key without a row is its own account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final, Literal

from idp.storage import ObjectStore

KEY_KIND: Final = "AccountKey"
#: Account rows do not expire (the objects table needs a time): the largest the databases store alike.
_NEVER: Final = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)

Via = Literal["card", "operator", "consent"]


class LinkRefused(Exception):
    """A link or unlink that was not recorded; ``reason`` is ``key_already_linked``, ``first_key`` or
    ``not_linked``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccountKey:
    """Where a key id belongs."""

    key_id: str
    account_id: str
    linked: bool
    assurance: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class LinkedKey:
    """One key of an account as an operator sees it (nothing personal): ``first`` for the account's own key,
    whose ``via`` and ``linked_at`` are those of the account's first link."""

    key_id: str
    first: bool
    via: Via
    linked_at: dt.datetime


class Accounts:
    """The key → account table over the objects store."""

    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    async def of(self, key_id: str, now: dt.datetime) -> AccountKey:
        """The account ``key_id`` logs in to (itself, when never linked)."""
        row = await self._objects.find(KEY_KIND, key_id, now=now)
        if row is None:
            return AccountKey(key_id, key_id, linked=False)
        return AccountKey(key_id, str(row.payload["account"]), linked=True, assurance=row.payload.get("assurance"))

    async def account_assurance(self, account_id: str, now: dt.datetime) -> dict[str, Any] | None:
        """The signing-certificate evidence recorded when the account was linked, if any."""
        return (await self.of(account_id, now)).assurance

    async def link(self, first: str, joining: str, now: dt.datetime, *, via: Via,
                   assurance: dict[str, Any] | None = None) -> str:
        """Record that ``joining`` belongs to the account of ``first``; return the account id. Raises
        :class:`LinkRefused` (nothing recorded) when ``joining`` is part of an account already."""
        account = (await self.of(first, now)).account_id
        if account == (await self.of(joining, now)).account_id:
            return account  # linked already (again the same card): nothing changes
        payload = {"account": account, "linked_at": int(now.timestamp()), "via": via}
        if not await self._objects.remember_once(KEY_KIND, joining, expires_at=_NEVER, now=now, payload=payload):
            raise LinkRefused("key_already_linked")
        await self._objects.remember_once(KEY_KIND, account, expires_at=_NEVER, now=now, payload=payload)
        if assurance:  # on the account's first key, where every later login finds it
            head = await self._objects.find(KEY_KIND, account, now=now)
            await self._objects.upsert(KEY_KIND, account, {**(payload if head is None else head.payload),
                                                           "assurance": assurance}, _NEVER)
        if (await self.of(first, now)).account_id != account:  # ``first`` joined another account meanwhile
            await self._objects.destroy(KEY_KIND, joining)
            raise LinkRefused("key_already_linked")
        return account

    async def keys_of(self, account_id: str, now: dt.datetime) -> list[LinkedKey]:
        """The keys of the account ``account_id`` (the first key first); empty for a key never linked."""
        rows = await self._objects.find_matching(KEY_KIND, {"account": account_id}, now=now)
        return sorted((LinkedKey(row.id, row.id == account_id, row.payload["via"],
                                 dt.datetime.fromtimestamp(row.payload["linked_at"], dt.UTC)) for row in rows),
                      key=lambda key: (not key.first, key.linked_at, key.key_id))

    async def unlink(self, key_id: str, now: dt.datetime) -> str:
        """Remove ``key_id`` from its account (it is its own account again); return the account it left. Raises
        :class:`LinkRefused`: ``first_key`` (the account's own key cannot leave), ``not_linked`` (in no account,
        or unlinked meanwhile: of concurrent unlinks one succeeds)."""
        entry = await self.of(key_id, now)
        if not entry.linked:
            raise LinkRefused("not_linked")
        if entry.account_id == key_id:
            raise LinkRefused("first_key")
        if not await self._objects.destroy(KEY_KIND, key_id):
            raise LinkRefused("not_linked")
        return entry.account_id


__all__ = ["KEY_KIND", "AccountKey", "Accounts", "LinkRefused", "LinkedKey", "Via"]
