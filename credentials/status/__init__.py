"""Token Status List (draft-ietf-oauth-status-list): the list, its JWT, index allocation and the verifier side.

Issuer::

    allocator = IndexAllocator(1 << 20)
    idx = allocator.allocate()                      # random, never reused
    statuses = StatusList(1 << 20, bits=2)
    statuses[idx] = StatusType.SUSPENDED
    token = status_list_token(statuses, uri=uri, iat=now, exp=now + day, ttl=hour, signer=signer)

Relying party::

    checker = StatusChecker(fetch=http_get, keys=status_keys)
    checker.check(StatusReference.from_claim(claims["status"]), at=now)   # raises unless VALID
"""

from credentials.status.allocator import MAX_ENTRIES, IndexAllocator
from credentials.status.bits import StatusList, StatusType
from credentials.status.check import CachedStatusList, Fetcher, StatusChecker, StatusReference
from credentials.status.token import STATUS_LIST_TYP, StatusListToken, status_list_token, verify_status_list_token

__all__ = [
    "MAX_ENTRIES",
    "STATUS_LIST_TYP",
    "CachedStatusList",
    "Fetcher",
    "IndexAllocator",
    "StatusChecker",
    "StatusList",
    "StatusListToken",
    "StatusReference",
    "StatusType",
    "status_list_token",
    "verify_status_list_token",
]
