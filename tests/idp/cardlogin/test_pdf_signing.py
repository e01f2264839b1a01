"""A PDF signed with the card through the provider, end to end (issue 12 item 5): ``python -m docsign pdf-prepare``
adds the placeholder and prints the ByteRange digest; the business sends that digest as a ``jpki_sign`` request with
``signatureFormat: "pades"`` (RFC 9126 PAR); the person approves it and signs with the virtual card in headless
Chromium (the checks of :func:`.test_signing_browser._sign`); the business fetches ``/sign/results`` and
``python -m docsign pdf-finish`` embeds the detached CMS: once as is (PAdES B-B, ETSI EN 319 142-1 §6.3) and once
with a signature timestamp from a loopback RFC 3161 TSA (PAdES B-T).

Both PDFs are verified by pyHanko's validator (the independent verifier: the test signing root and its CRL only,
hard-fail; the TSA's root for the timestamp) and by ``python -m docsign verify-pdf``; a byte changed inside the
signed range is refused by both.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from cardreader.virtual.profile import CardProfile
from keys.testpki import TestPki
from keys.x509.profile import Purpose
from tests.support.pdf import minimal_pdf
from tests.support.processes import ROOT
from tests.support.tsa import LoopbackTsa, start_tsa

from .conftest import Agent, Pki, Provider
from .test_browser import browser  # noqa: F401 (the browser fixture)
from .test_signing_browser import _sign, card, client, context  # noqa: F401 (the card, client, context fixtures)

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.pcsc, pytest.mark.slow]
TEXT = b"(Contract 2026-12)"
PDF = minimal_pdf(TEXT[1:-1].decode())


def _docsign(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """``python -m docsign ARGS``: its exit code and the JSON object it prints."""
    run = subprocess.run([sys.executable, "-m", "docsign", *map(str, args)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, check=False)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


@pytest.fixture(scope="module")
def tsa() -> Iterator[LoopbackTsa]:
    server = start_tsa(dt.datetime.now(dt.UTC).replace(microsecond=0))
    yield server
    server.server.shutdown()


def _issuing_root(pki: Pki, holder: CardProfile) -> tuple[x509.Certificate, Path]:
    """The signing root that issued ``holder``'s signing certificate, and that root's CRL."""
    leaf = x509.load_der_x509_certificate(holder.certificate("sign_certificate"))
    for root in TestPki.open(pki.directory).roots():
        if root.purpose is Purpose.SIGN and root.certificate.subject == leaf.issuer:
            try:
                leaf.verify_directly_issued_by(root.certificate)
            except (InvalidSignature, ValueError, TypeError):  # another generation's key (same DN)
                continue
            return root.certificate, pki.crls / f"{root.purpose.value}-gen{root.generation}.crl"
    raise AssertionError("no signing root issued the card")


def _pyhanko(pdf: bytes, root: x509.Certificate, crl: bytes, tsa_root: bytes) -> PdfSignatureStatus:
    """pyHanko's verdict on the PDF's one signature: the signing root and its CRL only, hard-fail; timestamps
    against the TSA's root."""
    (embedded,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    signer = ValidationContext(trust_roots=[asn1_x509.Certificate.load(root.public_bytes(Encoding.DER))],
                               crls=[crl], allow_fetching=False, revocation_mode="hard-fail")
    stamps = ValidationContext(trust_roots=[asn1_x509.Certificate.load(tsa_root)], allow_fetching=False)
    validation = async_validate_pdf_signature(embedded, signer_validation_context=signer, ts_validation_context=stamps)
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps an event loop running in this thread
        return thread.submit(asyncio.run, validation).result()


def _tampered(pdf: bytes) -> bytes:
    """``pdf`` with one byte of the original page text (inside the signed range) changed."""
    at = pdf.index(TEXT) + len(TEXT) - 3
    changed = pdf[:at] + b"7" + pdf[at + 1:]
    assert changed != pdf
    return changed


def test_pdf_signed_as_pades_b_b_and_b_t(context: Any, provider: Provider, agent: Agent,  # noqa: F811 (fixtures)
                                        card: CardProfile, client: str, pki: Pki,  # noqa: F811 (fixtures)
                                        tsa: LoopbackTsa, tmp_path: Path) -> None:
    (tmp_path / "contract.pdf").write_bytes(PDF)
    code, printed = _docsign("pdf-prepare", tmp_path / "contract.pdf", tmp_path / "prepared.pdf")
    assert code == 0
    assert (printed["hash_algorithm"], printed["profile"]) == ("sha256", "pades")
    prepared = (tmp_path / "prepared.pdf").read_bytes()
    state = json.loads((tmp_path / "prepared.pdf.state.json").read_text())
    signed_range = prepared[:state["reserved_start"]] + prepared[state["reserved_end"]:]
    assert hashlib.sha256(signed_range).hexdigest() == printed["digest_hex"]  # what the card is asked to sign

    results = _sign(context, provider, agent, [("契約書.pdf", signed_range)], tmp_path, pki,
                    signature_format="pades")
    (document,) = results["documents"]
    assert document["signatureFormat"] == "pades"
    cms_der = base64.b64decode(document["cms"])
    (signer_info,) = cms.ContentInfo.load(cms_der)["content"]["signer_infos"]
    attributes = {attribute["type"].native for attribute in signer_info["signed_attrs"]}
    assert {"content_type", "message_digest", "signing_certificate_v2"} <= attributes  # ETSI EN 319 142-1 §5.2
    assert "signing_time" not in attributes  # PAdES: the time is the dictionary's /M (§5.2.1)
    (tmp_path / "signature.p7s").write_bytes(cms_der)

    root, crl_path = _issuing_root(pki, card)
    (tmp_path / "sign-root.pem").write_bytes(root.public_bytes(Encoding.PEM))
    (tmp_path / "tsa-root.der").write_bytes(tsa.root_der)
    crl = crl_path.read_bytes()
    for level, tsa_options in (("B-B", ()), ("B-T", ("--tsa", tsa.url))):
        out = tmp_path / f"signed-{level}.pdf"
        assert _docsign("pdf-finish", tmp_path / "prepared.pdf", tmp_path / "signature.p7s", out, *tsa_options)[0] == 0
        signed = out.read_bytes()
        assert signed.startswith(prepared[:state["reserved_start"]])  # an incremental update of the prepared PDF

        status = _pyhanko(signed, root, crl, tsa.root_der)
        assert status.bottom_line, (level, status.pretty_print_details())
        assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
        verify = ("verify-pdf", out, "--root", tmp_path / "sign-root.pem", "--test-roots", "--crl", crl_path,
                  "--tsa-root", tmp_path / "tsa-root.der")
        code, ours = _docsign(*verify)
        assert (code, ours["valid"]) == (0, True), ours
        (one,) = ours["signatures"]
        assert one["covers_whole_file"]
        assert one["claimed_signing_time"] is None
        assert one["hash_algorithm"] == "sha256"
        if level == "B-B":
            assert status.timestamp_validity is None
            assert one["timestamp"] is None
        else:  # the signature timestamp over the card's signature value, from the pinned TSA
            stamp = status.timestamp_validity
            assert stamp is not None
            assert stamp.intact
            assert stamp.valid
            assert stamp.trusted
            assert one["timestamp"] == stamp.timestamp.isoformat().replace("+00:00", "Z")

        tampered = tmp_path / f"tampered-{level}.pdf"
        tampered.write_bytes(_tampered(signed))
        assert not _pyhanko(tampered.read_bytes(), root, crl, tsa.root_der).intact
        code, ours = _docsign(*verify[:1], tampered, *verify[2:])
        assert (code, ours["valid"], ours["reason"]) == (1, False, "digest_mismatch"), ours
