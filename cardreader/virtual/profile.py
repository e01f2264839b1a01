"""Card profiles: one JSON file describing a virtual card (holder facts, PINs, which certificates exist,
root generation, token label: the plastic card, or a smartphone token — :data:`ANDROID_TOKEN_LABEL`,
:data:`IOS_TOKEN_LABEL` — whose access rules the card follows, see
:func:`cardreader.virtual.card.protected_files`) next to the keys and certificates issued for it by the keys
test PKI, and
a state file holding the PIN retry counters (so a blocked card stays blocked across emulator restarts).

Layout for ``card.json``::

    card.json              the profile (PINs in clear: test material only)
    card.auth.key.pem      authentication private key (PKCS#8, unencrypted)
    card.auth.der          authentication certificate
    card.auth-ca.der       authentication root (the card's EF 000B)
    card.sign.key.pem      signing private key          (absent for a card without a signing pair)
    card.sign.der          signing certificate          (absent likewise)
    card.sign-ca.der       signing root (EF 0002)
    card.state.json        retry counters, written by the card (delete it to "unblock" the card)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader.virtual.card import CardContent, Fault, VirtualCard
from keys.testpki import HolderFacts, TestPki
from keys.testpki.store import private_key_pem

PROFILE_FORMAT = 1
DEFAULT_AUTH_PIN = "1234"
DEFAULT_SIGN_PASSWORD = "ABC123"
DEFAULT_TOKEN_LABEL = "JPKIAPICCTOKEN2"
#: EF 0006 labels of the smartphone tokens (スマホ用電子証明書): Android's secure element and the iPhone.
ANDROID_TOKEN_LABEL = "JPKIAPGPSETOKEN"
IOS_TOKEN_LABEL = "JPKIAPIOSTOKEN"
_FILE_ROLES = ("auth_key", "auth_certificate", "auth_ca", "sign_ca", "sign_key", "sign_certificate")
_SUFFIXES = {
    "auth_key": ".auth.key.pem",
    "auth_certificate": ".auth.der",
    "auth_ca": ".auth-ca.der",
    "sign_ca": ".sign-ca.der",
    "sign_key": ".sign.key.pem",
    "sign_certificate": ".sign.der",
}


class ProfileError(ValueError):
    """A profile file that cannot be used (missing, unreadable, or not in the expected shape)."""


@dataclass(frozen=True)
class CardProfile:
    """A loaded profile. ``files`` maps roles to file names relative to the profile's directory."""

    path: Path
    token_label: str
    auth_pin: str = field(repr=False)
    sign_password: str | None = field(repr=False)
    generation: int
    holder: Mapping[str, str]
    files: Mapping[str, str]

    @property
    def state_path(self) -> Path:
        """The retry-counter file next to the profile."""
        return self.path.with_name(self.path.stem + ".state.json")

    @property
    def has_sign(self) -> bool:
        """Whether the card carries a signing pair."""
        return "sign_key" in self.files and self.sign_password is not None

    def file(self, role: str) -> Path:
        """The path of one of the profile's files."""
        return self.path.parent / self.files[role]

    def certificate(self, role: str) -> bytes:
        """One of the card's certificates, DER."""
        return self.file(role).read_bytes()

    def content(self, fault: Fault | None = None) -> CardContent:
        """The card's files, PINs and keys."""
        return CardContent.jpki(
            token_label=self.token_label,
            auth_pin=self.auth_pin,
            auth_key=self._key("auth_key"),
            auth_certificate=self.certificate("auth_certificate"),
            auth_ca=self.certificate("auth_ca"),
            sign_ca=self.certificate("sign_ca"),
            sign_password=self.sign_password if self.has_sign else None,
            sign_key=self._key("sign_key") if self.has_sign else None,
            sign_certificate=self.certificate("sign_certificate") if self.has_sign else None,
            fault=fault,
        )

    def card(self, fault: Fault | None = None) -> VirtualCard:
        """A card built from this profile, its counters loaded from and saved to :attr:`state_path`."""
        state = StateFile(self.state_path)
        return VirtualCard(self.content(fault), counters=state.load(), store=state, fault=fault)

    def reset_counters(self) -> None:
        """Forget the retry counters (the municipal office's PIN reset)."""
        self.state_path.unlink(missing_ok=True)

    def copy_to(self, path: Path) -> CardProfile:
        """Copy the profile and its keys/certificates to ``path`` (fresh counters: no state file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        files = {role: path.stem + _SUFFIXES[role] for role in self.files}
        for role, name in files.items():
            shutil.copyfile(self.file(role), path.parent / name)
        copy = dataclasses.replace(self, path=path, files=files)
        copy.save()
        return copy

    def save(self) -> None:
        """Write the profile JSON."""
        document = {
            "format": PROFILE_FORMAT,
            "token_label": self.token_label,
            "auth_pin": self.auth_pin,
            "sign_password": self.sign_password,
            "generation": self.generation,
            "holder": dict(self.holder),
            "files": dict(self.files),
        }
        _write_atomic(self.path, json.dumps(document, ensure_ascii=False, indent=2) + "\n")

    def _key(self, role: str) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.file(role).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ProfileError(f"{self.files[role]} is not an RSA key")
        return key


class StateFile:
    """The card's retry counters as JSON (``{"0018": 3, "001B": 5}``), replaced atomically on each change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[int, int]:
        """The stored counters (empty when the card has never changed them)."""
        try:
            raw = json.loads(self.path.read_text())
            return {int(ef, 16): int(tries) for ef, tries in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError, TypeError) as exc:
            raise ProfileError(f"{self.path.name}: unreadable counter state ({exc})") from None

    def save(self, counters: Mapping[int, int]) -> None:
        """Store ``counters`` (called by the card before it answers)."""
        _write_atomic(self.path, json.dumps({f"{ef:04X}": tries for ef, tries in sorted(counters.items())}) + "\n")


def create_profile(
    path: Path,
    *,
    pki_dir: Path,
    now: dt.datetime,
    generation: int = 3,
    with_sign: bool = True,
    auth_pin: str = DEFAULT_AUTH_PIN,
    sign_password: str = DEFAULT_SIGN_PASSWORD,
    token_label: str = DEFAULT_TOKEN_LABEL,
    holder: HolderFacts | None = None,
    not_before: dt.datetime | None = None,
    lifetime: dt.timedelta = dt.timedelta(days=5 * 365),
    sign_ocsp_url: str | None = None,
) -> CardProfile:
    """Issue a card from the test PKI in ``pki_dir`` (created if missing) and write its profile to ``path``;
    ``not_before`` and ``lifetime`` set the certificates' validity (e.g. an expired card) as
    :meth:`keys.testpki.TestPki.issue_card` does (``sign_ocsp_url``: the signing certificate names that OCSP
    responder)."""
    holder = holder or HolderFacts()
    pki = TestPki.open(pki_dir)
    material = pki.issue_card(now=now, generation=generation, facts=holder, with_sign=with_sign, not_before=not_before,
                              lifetime=lifetime, sign_ocsp_url=sign_ocsp_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    blobs: dict[str, bytes] = {
        "auth_key": private_key_pem(material.auth_key),
        "auth_certificate": _der(material.auth_certificate),
        "auth_ca": _der(material.auth_root.certificate),
        "sign_ca": _der(material.sign_root.certificate),
    }
    if material.sign_key is not None and material.sign_certificate is not None:
        blobs["sign_key"] = private_key_pem(material.sign_key)
        blobs["sign_certificate"] = _der(material.sign_certificate)
    files = {role: path.stem + _SUFFIXES[role] for role in blobs}
    for role, data in blobs.items():
        target = path.parent / files[role]
        target.write_bytes(data)
        if role.endswith("_key"):
            target.chmod(0o600)
    profile = CardProfile(
        path=path,
        token_label=token_label,
        auth_pin=auth_pin,
        sign_password=sign_password.upper() if with_sign else None,
        generation=generation,
        holder={k: v for k, v in dataclasses.asdict(holder).items() if v is not None},
        files=files,
    )
    profile.save()
    profile.reset_counters()
    return profile


def load_profile(path: Path) -> CardProfile:
    """Read and check a profile written by :func:`create_profile`."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read profile {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != PROFILE_FORMAT:
        raise ProfileError(f"{path}: not a card profile (format {PROFILE_FORMAT})")
    try:
        files = {str(k): str(v) for k, v in document["files"].items() if k in _FILE_ROLES}
        profile = CardProfile(
            path=path,
            token_label=str(document["token_label"]),
            auth_pin=str(document["auth_pin"]),
            sign_password=None if document.get("sign_password") is None else str(document["sign_password"]),
            generation=int(document["generation"]),
            holder={str(k): str(v) for k, v in document.get("holder", {}).items()},
            files=files,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProfileError(f"{path}: missing or invalid field ({exc})") from None
    missing = [role for role in ("auth_key", "auth_certificate", "auth_ca", "sign_ca") if role not in files]
    missing += [name for name in files.values() if not (path.parent / name).is_file()]
    if missing:
        raise ProfileError(f"{path}: missing files {missing}")
    return profile


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = [
    "ANDROID_TOKEN_LABEL",
    "DEFAULT_AUTH_PIN",
    "DEFAULT_SIGN_PASSWORD",
    "IOS_TOKEN_LABEL",
    "CardProfile",
    "ProfileError",
    "StateFile",
    "create_profile",
    "load_profile",
]
