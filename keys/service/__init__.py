"""The service's own signing keys: generation, encryption at rest, rotation, JWKS, PKCS#11.

Usage (the provider supplies the store and the clock)::

    keyset = Keyset(store, keks=KeyEncryptionKeys.parse(text), backends={"software": SoftwareBackend()},
                    generate_with="software", algorithms=("ES256",), policy=policy, cache_ttl=ttl)
    await keyset.rotate(now)                       # creates the first keys, later their successors
    token = encode_jwt(claims, await keyset.signer("ES256", now))
    document = await keyset.jwks(now)

Nothing here imports the provider: :class:`~keys.service.store.KeyStore` is the protocol it implements.
"""

from keys.service.backend import GeneratedKey, KeyBackend
from keys.service.encryption import KeyEncryptionKeys, WrappedKey
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.jws import compact_jws, encode_jwt
from keys.service.keyset import Keyset
from keys.service.rotation import RotationPolicy
from keys.service.signer import SIGNING_ALGORITHMS, Signer, SoftwareSigner
from keys.service.software import SoftwareBackend
from keys.service.store import KeyState, KeyStore, Retirement, StoredKey

__all__ = [
    "SIGNING_ALGORITHMS",
    "GeneratedKey",
    "KeyBackend",
    "KeyEncryptionKeys",
    "KeyFault",
    "KeyServiceError",
    "KeyState",
    "KeyStore",
    "Keyset",
    "Retirement",
    "RotationPolicy",
    "Signer",
    "SoftwareBackend",
    "SoftwareSigner",
    "StoredKey",
    "WrappedKey",
    "compact_jws",
    "encode_jwt",
]
