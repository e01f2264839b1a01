"""The Digital Agency's way of asking for a card signature in an authorization request: scope ``sign`` with
``sign_transaction_id``, naming a sign transaction the client registered before (``POST /api/sign-transactions``,
:mod:`idp.sign.digital_agency`). Such a request becomes a ``jpki_sign`` request (:mod:`idp.sign`): its one
``authorization_details`` entry is :func:`transaction_entry`, whose documents are the transaction's::

    transaction_details(params, scope)  # ({"type": "jpki_sign", "sign_transaction_id": "37a5…"},) or ()

Both go together (``sign`` without a transaction, or a transaction without ``sign``: ``invalid_request``); the id is
a UUID. Whether the transaction exists, is the same client's, unexpired and unused is checked when the request is
bound to its interaction (:func:`idp.sign.digital_agency.bind_transaction`), once.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Final

from idp.errors import InvalidRequest
from idp.oauth.authorization_request.parameters import Parameters, text

SIGN_SCOPE: Final = "sign"
PARAMETER: Final = "sign_transaction_id"
#: The ``authorization_details`` type signing requests have (:mod:`idp.sign`), and the member naming the transaction.
JPKI_SIGN: Final = "jpki_sign"
_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def transaction_entry(transaction_id: str) -> dict[str, Any]:
    """The ``jpki_sign`` entry of a request naming sign transaction ``transaction_id``."""
    return {"type": JPKI_SIGN, PARAMETER: transaction_id}


def transaction_of(entries: Collection[Any]) -> str | None:
    """The sign transaction the request's ``authorization_details`` entries name, if any."""
    return next((str(e[PARAMETER]) for e in entries if e.get("type") == JPKI_SIGN and PARAMETER in e), None)


def transaction_details(params: Parameters, scope: Collection[str]) -> tuple[dict[str, Any], ...]:
    """The entry for the request's ``sign_transaction_id`` (none without one); ``invalid_request`` when scope
    ``sign`` and the parameter do not come together, or the id is not a UUID."""
    value = text(params, PARAMETER)
    if value is None:
        if SIGN_SCOPE in scope:
            raise InvalidRequest(f"scope {SIGN_SCOPE} needs {PARAMETER} (the transaction registered at "
                                 "/api/sign-transactions)")
        return ()
    if SIGN_SCOPE not in scope:
        raise InvalidRequest(f"{PARAMETER} needs scope {SIGN_SCOPE}")
    if not _UUID.fullmatch(value.lower()):
        raise InvalidRequest(f"{PARAMETER} is a UUID")
    return (transaction_entry(value.lower()),)


__all__ = ["JPKI_SIGN", "PARAMETER", "SIGN_SCOPE", "transaction_details", "transaction_entry", "transaction_of"]
