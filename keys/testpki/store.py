"""A test PKI that lives in a directory: roots are generated once and reused by the virtual card, the
demo and the tests. Private keys are stored unencrypted: this is test material, never production trust.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from keys.testpki.hierarchy import (
    DEFAULT_OCSP_URL,
    GENERATIONS,
    HolderFacts,
    Root,
    issue_card_certificate,
    make_root,
    new_rsa_key,
)
from keys.x509.profile import Purpose

_PURPOSES = (Purpose.AUTH, Purpose.SIGN)


@dataclass(frozen=True)
class CardMaterial:
    """Keys and certificates of one test card (the signing pair is absent for under-15s)."""

    auth_key: rsa.RSAPrivateKey
    auth_certificate: x509.Certificate
    auth_root: Root
    sign_root: Root
    sign_key: rsa.RSAPrivateKey | None = None
    sign_certificate: x509.Certificate | None = None


class TestPki:
    """Test roots for every (purpose, generation), and issuance of test cards."""

    __test__ = False  # not a pytest test class

    def __init__(self, roots: dict[tuple[Purpose, int], Root]) -> None:
        self._roots = roots

    @classmethod
    def generate(cls) -> TestPki:
        """Fresh in-memory roots for all three generations of both purposes."""
        return cls({(p, g): make_root(p, g) for p in _PURPOSES for g in GENERATIONS})

    @classmethod
    def open(cls, directory: Path) -> TestPki:
        """Load the roots from ``directory``, generating (and saving) whatever is missing."""
        directory.mkdir(parents=True, exist_ok=True)
        roots: dict[tuple[Purpose, int], Root] = {}
        for purpose in _PURPOSES:
            for generation in GENERATIONS:
                stem = directory / f"{purpose.value}-root-gen{generation}"
                key_path, cert_path = stem.with_suffix(".key.pem"), stem.with_suffix(".pem")
                if key_path.exists() and cert_path.exists():
                    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                    assert isinstance(key, rsa.RSAPrivateKey)
                    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
                    roots[(purpose, generation)] = Root(purpose, generation, cert, key)
                    continue
                root = make_root(purpose, generation)
                key_path.write_bytes(private_key_pem(root.key))
                key_path.chmod(0o600)
                cert_path.write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
                roots[(purpose, generation)] = root
        return cls(roots)

    def root(self, purpose: Purpose, generation: int = 3) -> Root:
        """The root of ``purpose`` and ``generation``."""
        return self._roots[(purpose, generation)]

    def roots(self) -> list[Root]:
        """Every root, for writing a trust directory."""
        return list(self._roots.values())

    def write_trust_directory(self, directory: Path) -> Path:
        """Write every root certificate as PEM into ``directory`` (for ``--trust DIR``)."""
        directory.mkdir(parents=True, exist_ok=True)
        for root in self._roots.values():
            name = f"{root.purpose.value}-root-gen{root.generation}.pem"
            (directory / name).write_bytes(root.certificate.public_bytes(serialization.Encoding.PEM))
        return directory

    def issue_card(
        self,
        *,
        now: dt.datetime,
        generation: int = 3,
        facts: HolderFacts | None = None,
        with_sign: bool = True,
        lifetime: dt.timedelta = dt.timedelta(days=5 * 365),
        not_before: dt.datetime | None = None,
        ocsp_url: str | None = None,
        sign_ocsp_url: str | None = None,
        auth_key: rsa.RSAPrivateKey | None = None,
        sign_key: rsa.RSAPrivateKey | None = None,
    ) -> CardMaterial:
        """Issue a card: an auth pair and (unless ``with_sign`` is false) a signing pair.

        Validity runs from ``not_before`` (default: a day before ``now``) for ``lifetime``, capped by the
        root's notAfter and ending at 14:59:59Z like real certificates. The signing certificate names an OCSP
        responder only when ``sign_ocsp_url`` is given (the real ones observed name none).
        """
        auth_root, sign_root = self.root(Purpose.AUTH, generation), self.root(Purpose.SIGN, generation)
        start = not_before or (now - dt.timedelta(days=1)).replace(microsecond=0)
        end = min(start + lifetime, auth_root.certificate.not_valid_after_utc).replace(
            hour=14, minute=59, second=59, microsecond=0
        )
        if end <= start:
            end = start + dt.timedelta(hours=1)
        auth_key = auth_key or new_rsa_key()
        auth_cert = issue_card_certificate(
            auth_root, auth_key.public_key(), not_before=start, not_after=end, facts=facts,
            ocsp_url=ocsp_url or DEFAULT_OCSP_URL,
        )
        if not with_sign:
            return CardMaterial(auth_key, auth_cert, auth_root, sign_root)
        sign_key = sign_key or new_rsa_key()
        sign_cert = issue_card_certificate(
            sign_root, sign_key.public_key(), not_before=start, not_after=end, facts=facts or HolderFacts(),
            ocsp_url=sign_ocsp_url,
        )
        return CardMaterial(auth_key, auth_cert, auth_root, sign_root, sign_key, sign_cert)


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM (test material only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
