"""The provider's :class:`~keys.service.keyset.Keyset`, built from settings.

The key-encryption keys come from ``keys.keks`` or ``keys.kek_file``; with neither, a development KEK
is generated once in the data directory (:mod:`servicekit.kek`; :func:`idp.settings.unsafe_warnings` says
so at every start).
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from idp.settings import Settings
from idp.storage import Database, SqlKeyStore
from keys.service.backend import KeyBackend
from keys.service.encryption import KeyEncryptionKeys
from keys.service.keyset import Keyset
from keys.service.pkcs11 import Pkcs11Backend
from keys.service.rotation import RotationPolicy
from keys.service.software import SoftwareBackend
from servicekit import kek

DEV_KEK_FILE: Final = "dev-kek"


def load_keks(settings: Settings) -> KeyEncryptionKeys:
    """The KEK list from settings, or the development KEK (:func:`servicekit.kek.load_keks`)."""
    return kek.load_keks(settings.keys, settings.data_path, development_file=DEV_KEK_FILE)


def rotation_policy(settings: Settings) -> RotationPolicy:
    """Interval and publish lead from ``[keys]``; retention from the token lifetimes."""
    return RotationPolicy(interval=dt.timedelta(seconds=settings.keys.rotation_interval),
                          publish_lead=dt.timedelta(seconds=settings.keys.publish_lead),
                          retention=dt.timedelta(seconds=settings.key_retention))


def key_backends(settings: Settings, backend: str) -> dict[str, KeyBackend]:
    """Software keys always load; PKCS#11 keys (the ``[keys]`` token) when ``backend`` is ``pkcs11``."""
    backends: dict[str, KeyBackend] = {"software": SoftwareBackend()}
    if backend == "pkcs11":
        backends["pkcs11"] = Pkcs11Backend(settings.keys.pkcs11_module, settings.keys.pkcs11_token_label,
                                           settings.keys.pkcs11_pin.reveal())
    return backends


def build_keyset(settings: Settings, db: Database) -> Keyset:
    """The keyset over the database; software keys always load, PKCS#11 keys when the backend is set."""
    backends = key_backends(settings, settings.keys.backend)
    return Keyset(SqlKeyStore(db), keks=load_keks(settings), backends=backends, generate_with=settings.keys.backend,
                  algorithms=settings.keys.algorithms, policy=rotation_policy(settings),
                  cache_ttl=dt.timedelta(seconds=settings.keys.cache_ttl))
