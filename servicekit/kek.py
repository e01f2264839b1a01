"""Key-encryption keys (KEKs) from settings: ``keys.keks``, a ``keys.kek_file``, or a development KEK.

Both services encrypt what they keep at rest (signing keys, sealed credentials, response keys, waiting results)
under a :class:`~keys.service.encryption.KeyEncryptionKeys` list. With neither ``keks`` nor ``kek_file`` set, a
development KEK is generated once in the data directory (mode 0600, created atomically, so that concurrent
workers agree on one), and the service's ``unsafe_warnings`` says so at every start.

Usage::

    @dataclass(frozen=True, slots=True)
    class KeySettings(KekSettings):          # [keys] keks, kek_file, plus the service's own options
        ...

    keks = load_keks(settings.keys, settings.data_path, development_file="dev-kek")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keys.service.encryption import KeyEncryptionKeys
from keys.service.errors import KeyFault, KeyServiceError
from servicekit.secret_files import write_once
from servicekit.settings import Secret, option, secret_option


@dataclass(frozen=True, slots=True)
class KekSettings:
    """The KEK options of a ``[keys]`` section; a service's section subclasses it and adds its own."""

    keks: Secret = secret_option(
        doc="Key-encryption keys, base64url of 32 random octets, separated by commas; the first encrypts, all "
            "decrypt.",
        recommend="From a secret store (the environment variable), the same on every machine.")
    kek_file: str = option("", doc="File holding the key-encryption keys (one per line, '#' comments), instead "
                                   "of keks. With neither set, a development KEK is generated in the data "
                                   "directory.",
                           recommend="A file readable by the service user only, outside the data directory.")

    @property
    def configured(self) -> bool:
        """Whether a KEK is configured (otherwise the development KEK is used)."""
        return bool(self.keks or self.kek_file)

    def kek_problems(self) -> list[str]:
        """What is wrong with the KEK options (empty when valid)."""
        return ["keys.keks and keys.kek_file: set one, not both"] if self.keks and self.kek_file else []


def read_kek_file(path: Path) -> KeyEncryptionKeys:
    """The KEKs of a file (base64url, one per line or comma-separated; ``#`` comments)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyServiceError(KeyFault.BAD_KEK, f"cannot read KEK file {path}: {type(exc).__name__}") from None
    return KeyEncryptionKeys.parse(text)


def development_kek(path: Path) -> KeyEncryptionKeys:
    """The development KEK at ``path``, created (mode 0600) by whichever process gets there first."""
    write_once(path, "# development key-encryption key: replace with keys.keks or keys.kek_file\n"
                     f"{KeyEncryptionKeys.generate()}\n")
    return read_kek_file(path)


def load_keks(settings: KekSettings, data_dir: Path, *, development_file: str) -> KeyEncryptionKeys:
    """The configured KEKs (``keks``, else ``kek_file``), or the development KEK ``data_dir/development_file``.

    Raises :class:`~keys.service.errors.KeyServiceError` (``BAD_KEK``) when they cannot be read or parsed.
    """
    if settings.keks:
        return KeyEncryptionKeys.parse(settings.keks.reveal())
    if settings.kek_file:
        return read_kek_file(Path(settings.kek_file))
    return development_kek(data_dir / development_file)
