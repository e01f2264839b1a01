"""The provider's :class:`~keys.service.keyset.Keyset`, built from settings.

The key-encryption keys come from ``keys.keks`` or ``keys.kek_file``; with neither, a development KEK
is generated once in the data directory (and :func:`idp.settings.unsafe_warnings` says so at every
start).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Final

from idp.settings import Settings
from idp.storage import Database, SqlKeyStore
from keys.service.backend import KeyBackend
from keys.service.encryption import KeyEncryptionKeys
from keys.service.errors import KeyFault, KeyServiceError
from keys.service.keyset import Keyset
from keys.service.pkcs11 import Pkcs11Backend
from keys.service.rotation import RotationPolicy
from keys.service.software import SoftwareBackend

DEV_KEK_FILE: Final = "dev-kek"


def _read_kek_file(path: Path) -> KeyEncryptionKeys:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyServiceError(KeyFault.BAD_KEK, f"cannot read KEK file {path}: {type(exc).__name__}") from None
    return KeyEncryptionKeys.parse(text)


def _development_kek(data_dir: Path) -> KeyEncryptionKeys:
    """The development KEK, created (mode 0600) by whichever process gets there first."""
    path = data_dir / DEV_KEK_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        staging = data_dir / f".{DEV_KEK_FILE}.{os.getpid()}"
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write("# development key-encryption key: replace with keys.keks or keys.kek_file\n")
            out.write(KeyEncryptionKeys.generate() + "\n")
        try:
            os.link(staging, path)  # atomic: exactly one process's KEK wins
        except FileExistsError:
            pass
        finally:
            staging.unlink()
    return _read_kek_file(path)


def load_keks(settings: Settings) -> KeyEncryptionKeys:
    """The KEK list from settings, or the development KEK."""
    if settings.keys.keks:
        return KeyEncryptionKeys.parse(settings.keys.keks.reveal())
    if settings.keys.kek_file:
        return _read_kek_file(Path(settings.keys.kek_file))
    return _development_kek(settings.data_path)


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
