"""The ``jpki_sign`` authorization details type (RFC 9396 §2, §5, App. A.3): what it accepts, and every way an
entry is refused with ``invalid_authorization_details``."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest

import idp.app  # noqa: F401 (installs the plug-ins)
from idp.oauth.authorization_request.details import InvalidAuthorizationDetailsError, parse_details
from idp.sign.details import MAX_DOCUMENTS, MAX_LABEL_CHARS, documents_of
from keys.cms.digest_info import HashAlgorithm, encode_digest_info

SHA256 = "2.16.840.1.101.3.4.2.1"
SHA512 = "2.16.840.1.101.3.4.2.3"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _entry(*labels: str, oid: str = SHA256, digest: bytes | None = None, **extra: Any) -> dict[str, Any]:
    size = 64 if oid == SHA512 else 32
    digests = [{"hash": _b64(digest if digest is not None else hashlib.sha512(label.encode()).digest()[:size]),
                "label": label} for label in labels]
    return {"type": "jpki_sign", "hashAlgorithmOID": oid, "documentDigests": digests, **extra}


def test_the_rfc_9396_example_shape_is_accepted_and_kept() -> None:
    entry = _entry("Credit Contract", "重要事項説明書", locations=["https://signing.example.com/signdoc"])
    (parsed,) = parse_details(json.dumps([entry]))
    assert parsed == entry
    documents = documents_of(parsed)
    assert [d.label for d in documents] == ["Credit Contract", "重要事項説明書"]
    assert documents[0].digest_info == encode_digest_info(HashAlgorithm.SHA256, documents[0].digest)
    assert documents[0].profile == "cades-bes"


def test_digest_info_form_and_pades() -> None:
    digest = hashlib.sha384(b"pdf").digest()
    der = encode_digest_info(HashAlgorithm.SHA384, digest)
    entry = {"type": "jpki_sign", "signatureFormat": "pades",
             "documentDigestInfos": [{"digestInfo": _b64(der), "label": "Contract.pdf"}]}
    (document,) = documents_of(parse_details([entry])[0])
    assert (document.hash_algorithm, document.digest, document.digest_info, document.profile) == (
        "sha384", digest, der, "pades")


@pytest.mark.parametrize(("entries", "says"), [
    ([_entry("a", digest=b"\x00" * 31)], "sha256 digest is 32 octets, not 31"),
    ([_entry("a", digest=b"\x00" * 64)], "not 64"),
    ([_entry("a", oid="1.3.14.3.2.26")], "not allowed"),  # SHA-1
    ([_entry("a", oid="1.2.840.113549.2.5")], "not allowed"),  # MD5
    ([_entry(*[f"doc {i}" for i in range(MAX_DOCUMENTS + 1)])], f"1 to {MAX_DOCUMENTS}"),
    ([_entry("x" * (MAX_LABEL_CHARS + 1))], f"1 to {MAX_LABEL_CHARS} characters"),
    ([_entry("")], "1 to"),
    ([_entry("contract\u202etxt.exe")], "no control, format"),  # bidi override
    ([_entry("two\nlines")], "no control, format"),
    ([_entry(" padded")], "surrounding spaces"),
    ([_entry("a", colour="red")], "unknown member 'colour'"),
    ([_entry("a", signatureFormat="xades")], "signatureFormat"),
    ([_entry("a"), _entry("b")], "one jpki_sign entry per request"),
    ([{"type": "jpki_sign", "documentDigests": [{"hash": _b64(b"\x00" * 32), "label": "a"}]}], "hashAlgorithmOID"),
    ([{"type": "jpki_sign", "hashAlgorithmOID": SHA256}], "exactly one of"),
    ([{**_entry("a"), "documentDigestInfos": []}], "exactly one of"),
    ([{"type": "jpki_sign", "documentDigestInfos": [{"digestInfo": _b64(b"\x30\x00"), "label": "a"}]}],
     "digestInfo"),
    ([{"type": "jpki_sign", "hashAlgorithmOID": SHA256, "documentDigests": [{"hash": "not base64!", "label": "a"}]}],
     "base64"),
    ([{"type": "jpki_sign", "hashAlgorithmOID": SHA256, "documentDigests": [{"hash": _b64(b"\x00" * 32)}]}],
     "exactly hash and label"),
    ([{"type": "payment_initiation"}], "unsupported authorization details type"),
    ([], "array of 1 to"),
    ("not json", "not JSON"),
])
def test_bad_entries_are_invalid_authorization_details(entries: object, says: str) -> None:
    with pytest.raises(InvalidAuthorizationDetailsError, match=says) as refused:
        parse_details(entries if isinstance(entries, str) else json.dumps(entries))
    assert refused.value.error == "invalid_authorization_details"
