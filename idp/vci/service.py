"""What a provider process holds for issuing credentials (:class:`Vci`, an extension of :class:`idp.runtime.Services`:
:func:`issuer_of`), built from settings.

* the credential signing keys and their issuing CA (:mod:`idp.vci.keys`, :mod:`idp.vci.ca`);
* the issuer's storage (:class:`idp.storage.credentials.CredentialStore`);
* sealing: personal data kept between the login and the issuance (the facts, the issued responses) is encrypted
  with the key-encryption keys of ``[keys]`` (AES-256-GCM, bound to the row), never stored in clear;
* the revocation view (:mod:`idp.vci.revocation`) and the proof policy (:mod:`credentials.oid4vci.proof`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from credentials.jose import json_bytes
from credentials.oid4vci.proof import KeyAttestationPolicy, ProofPolicy
from idp.runtime import Services
from idp.settings import Settings
from idp.signing import load_keks
from idp.storage.credentials import CredentialStore, StatusListParameters
from idp.vci.ca import load_ca
from idp.vci.keys import CredentialKeys, build_credential_keyset
from idp.vci.references import reference_key
from idp.vci.revocation import RevocationView
from keys.service.encryption import KeyEncryptionKeys, WrappedKey
from keys.trust import TrustStore, fingerprint
from servicekit.database import Database

#: Bits per Status List entry: VALID, INVALID, SUSPENDED (draft-ietf-oauth-status-list §7.1).
STATUS_BITS: Final = 2
_AAD: Final = b"mynacard-id credentials\x00"


def status_list_parameters(settings: Settings) -> StatusListParameters:
    """New lists: ``credentials.status_list_size`` entries, a new list once half of them are handed out (random
    indices then stay cheap to find and the anonymity set large)."""
    size = settings.credentials.status_list_size
    return StatusListParameters(size=size, bits=STATUS_BITS, capacity=size // 2)


def attestation_trust(settings: Settings) -> TrustStore | None:
    """The wallet-provider roots of ``credentials.key_attestation_roots`` (every certificate found there is
    trusted as configured), or ``None``."""
    directory = settings.credentials.key_attestation_roots
    if not directory:
        return None
    certificates = [c for path in sorted(Path(directory).iterdir()) if path.is_file()
                    for c in x509.load_pem_x509_certificates(path.read_bytes())]
    return TrustStore.build([(f"root-{i}", c.public_bytes(Encoding.PEM)) for i, c in enumerate(certificates)],
                            allow_test_roots=settings.test_mode,
                            extra_pins={fingerprint(c): "wallet provider" for c in certificates})


def proof_policy(settings: Settings) -> ProofPolicy:
    """The key proof rules of ``[credentials]``."""
    options = settings.credentials
    attestation = KeyAttestationPolicy(required=options.key_attestations == "required",
                                       trust=attestation_trust(settings),
                                       key_storage=frozenset(options.key_storage_levels),
                                       user_authentication=frozenset(options.user_authentication_levels))
    return ProofPolicy(audience=settings.issuer, max_age=dt.timedelta(seconds=options.proof_max_age),
                       leeway=dt.timedelta(seconds=settings.tokens.clock_tolerance), attestation=attestation)


@dataclass
class Vci:
    """The credential issuer of one process."""

    settings: Settings
    store: CredentialStore
    keys: CredentialKeys
    keks: KeyEncryptionKeys
    reference_key: bytes
    revocation: RevocationView
    proofs: ProofPolicy
    lists: StatusListParameters
    status_tokens: dict[int, tuple[int, dt.datetime, str]] = field(default_factory=dict)

    def seal(self, value: Any, context: str) -> tuple[str, bytes]:
        """``value`` as JSON, encrypted under the first KEK and bound to ``context`` (a row's identity)."""
        wrapped = self.keks.wrap(json_bytes(value), _AAD + context.encode("utf-8"))
        return wrapped.kek_id, wrapped.blob

    def unseal(self, kek_id: str, blob: bytes, context: str) -> Any:
        """What :meth:`seal` encrypted for ``context``."""
        return json.loads(self.keks.unwrap(WrappedKey(kek_id, blob), _AAD + context.encode("utf-8")))

    def close(self) -> None:
        """Close the keyset's backends."""
        self.keys.keyset.close()


def open_vci(settings: Settings, db: Database, now: dt.datetime) -> Vci:
    """The issuer for ``settings`` over ``db`` (the CA is loaded or, for development, created)."""
    store = CredentialStore(db)
    keys = CredentialKeys(build_credential_keyset(settings, db), store.key_certificates, load_ca(settings, now),
                          settings)
    key = reference_key(settings)
    return Vci(settings, store, keys, load_keks(settings), key, RevocationView(key, test_mode=settings.test_mode),
               proof_policy(settings), status_list_parameters(settings))


def request_key(*parts: str) -> str:
    """The idempotency key of a request: SHA-256 over its length-prefixed parts."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big") + data)
    return digest.hexdigest()

__all__ = ["STATUS_BITS", "Vci", "open_vci", "proof_policy", "request_key", "status_list_parameters"]


def issuer_of(services: Services) -> Vci | None:
    """The process's credential issuer (a :class:`idp.runtime.Services` extension), or None when it has none."""
    return services.extension(Vci)
