"""Publishing Token Status Lists (draft-ietf-oauth-status-list §5, §8) and changing statuses.

:func:`status_list_token` serves list ``N`` at ``{issuer}/statuslists/N`` as a ``statuslist+jwt`` signed with the
current credential signing key and its ``x5c`` chain (HAIP 1.0), ``sub`` its own URI, ``ttl``
``credentials.status_list_ttl``, ``exp`` ``credentials.status_list_token_lifetime`` after ``iat``. Each worker keeps
the token it signed and signs a new one when the list's version changed (any status change bumps it) or half
the ``ttl`` has passed; a relying party therefore sees a change within ``ttl`` plus half of it.

Statuses (§7.1): VALID, INVALID (final), SUSPENDED (back to VALID by :func:`change_status` only from SUSPENDED).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Final

from cryptography.hazmat.primitives.serialization import Encoding

from credentials.status.bits import StatusList, StatusType
from credentials.status.token import status_list_token as sign_status_list
from idp.runtime import Services
from idp.storage.audit import digest_ref, record
from idp.vci.service import issuer_of

STATUS_PATH: Final = "/statuslists"
STATUSES: Final = {"valid": StatusType.VALID, "invalid": StatusType.INVALID, "suspended": StatusType.SUSPENDED}
_log = logging.getLogger("idp.vci.status")


def status_uri(issuer: str, list_id: int) -> str:
    """Where list ``list_id`` is served (the ``uri`` of its status references and its token's ``sub``)."""
    return f"{issuer}{STATUS_PATH}/{list_id}"


async def status_list_token(services: Services, list_id: int, now: dt.datetime) -> str | None:
    """The current Status List Token of a list (``None``: no such list)."""
    vci = issuer_of(services)
    if vci is None:
        return None
    version = await vci.store.status_lists.version(list_id)
    if version is None:
        return None
    options = services.settings.credentials
    cached = vci.status_tokens.get(list_id)
    refresh = dt.timedelta(seconds=options.status_list_ttl / 2)
    if cached is not None and cached[0] == version and now < cached[1] + refresh:
        return cached[2]
    view = await vci.store.status_lists.view(list_id)
    if view is None:
        return None
    statuses = StatusList(view.size, view.bits)
    for idx, status in view.entries.items():
        statuses[idx] = status
    key = await vci.keys.current(now)
    x5c = [base64.b64encode(c.public_bytes(Encoding.DER)).decode("ascii") for c in key.chain]
    token = sign_status_list(statuses, uri=status_uri(services.settings.issuer, list_id), iat=now, signer=key.signer,
                             exp=now + dt.timedelta(seconds=options.status_list_token_lifetime),
                             ttl=dt.timedelta(seconds=options.status_list_ttl), header={"x5c": x5c})
    vci.status_tokens[list_id] = (view.version, now, token)
    return token


async def change_status(services: Services, status: str, *, credential_id: int | None = None,
                        status_list_id: int | None = None, status_idx: int | None = None,
                        dataset: str | None = None, actor: str) -> int:
    """Set ``status`` (``valid``, ``invalid``, ``suspended``) on the selected credentials; how many changed."""
    vci = issuer_of(services)
    if vci is None or status not in STATUSES:
        raise ValueError("status is valid, invalid or suspended")
    changed = await vci.store.status_lists.set_status(STATUSES[status], credential_id=credential_id,
                                                      status_list_id=status_list_id, status_idx=status_idx,
                                                      dataset=dataset)
    _log.warning("credential_status_changed", extra={"status": status, "changed": changed, "actor": actor})
    await record(services, "credential_status", status=status, count=changed, actor=actor, credential_id=credential_id,
                 status_list=status_list_id, status_index=status_idx,
                 dataset_ref=None if dataset is None else digest_ref(dataset))
    return changed


__all__ = ["STATUSES", "STATUS_PATH", "change_status", "status_list_token", "status_uri"]
