"""Linking two card keys to one person (pure): the in-card link of a card's two keys and the renewal link.

Two verified logins (:class:`keys.cardlogin.CardLogin`) prove one person when they were made in one card session
over ONE challenge: the verifier builds both expected messages from the same challenge (only the ``key`` field
differs, :func:`link_messages`) and verifies each signature with :func:`keys.cardlogin.verify_card_login`, so a
signature over any other challenge fails there (``BAD_SIGNATURE``). :func:`check_link` then judges the pair:

1. Two different keys (``LINK_SAME_KEY``): a login cannot be linked with itself.
2. In-card link (an authentication and a signing key): both chain to roots of the SAME generation
   (``LINK_GENERATION_MISMATCH``): J-LIS issues a card's two certificates under the roots of one generation, whose
   validity periods are equal (jpki-card-and-certs.md; :mod:`keys.testpki.hierarchy` copies them), so the roots'
   notBefore names the generation.
3. Both certificates have a revocation verdict of ``good`` (``LINK_NOT_CHECKED``): a link outlives the login,
   so it is never recorded on a certificate whose status was not checked (revoked ones already failed step 5 of
   :func:`~keys.cardlogin.verify_card_login`).

What is linked is the pair of key ids (:func:`keys.cardlogin.account_id_for`): no certificate and nothing
personal. The account model built on it lives with the provider (:mod:`idp.login.accounts`).

Example::

    auth_message, sign_message = link_messages(message)
    first = verify_card_login(auth_cert, auth_sig, expected=auth_message, ...)
    second = verify_card_login(sign_cert, sign_sig, expected=sign_message, ...)
    link = check_link(first, second)          # CardLink(first=<auth key id>, second=<sign key id>)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from keys.cardlogin import CardLogin, LoginMessage
from keys.errors import InvalidSignature, Reason
from keys.revocation.status import CertStatus
from keys.x509.profile import Purpose


@dataclass(frozen=True, slots=True)
class CardLink:
    """Two key ids proven to belong to one person: ``first`` is the key the account is found by."""

    first: str
    second: str


def link_messages(message: LoginMessage) -> tuple[LoginMessage, LoginMessage]:
    """The two messages of an in-card link: ``message`` with the authentication key, then with the signing key
    (same issuer, interaction, challenge and time)."""
    return dataclasses.replace(message, key=Purpose.AUTH), dataclasses.replace(message, key=Purpose.SIGN)


def check_link(first: CardLogin, second: CardLogin) -> CardLink:
    """Judge two logins verified over one challenge (module docstring, steps 1-3); raise with a reason."""
    if first.account_id == second.account_id:
        raise InvalidSignature(Reason.LINK_SAME_KEY, "a key cannot be linked with itself")
    if first.key is not second.key and (first.anchor_since is None or first.anchor_since != second.anchor_since):
        raise InvalidSignature(Reason.LINK_GENERATION_MISMATCH,
                               "the two certificates chain to roots of different generations")
    for login in (first, second):
        if login.revocation.status is not CertStatus.GOOD:
            raise InvalidSignature(Reason.LINK_NOT_CHECKED, "a link needs a revocation verdict for both certificates")
    return CardLink(first.account_id, second.account_id)


__all__ = ["CardLink", "check_link", "link_messages"]
