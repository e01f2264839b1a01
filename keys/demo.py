"""``python -m keys demo``: the verification core end to end on embedded defaults.

Creates (once) a JPKI-profile test PKI under ``DATA_DIR/testpki``, issues a test card, publishes an
empty CRL per root, and verifies both card certificates (path to the test roots, CRL revocation, and for
the signing certificate the decoded basic facts) exactly as the service will. Test mode is explicit here:
the test roots are admitted only because this is the demo.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from keys.revocation.crl import load_crl
from keys.revocation.policy import RevocationPolicy, check_revocation
from keys.testpki import TestPki
from keys.testpki.revocation import issue_crl
from keys.trust_files import load_trust_directory
from keys.x509.facts import decode_basic_facts
from keys.x509.path import validate_path
from keys.x509.profile import JPKI_AUTH, JPKI_SIGN


def run_demo(data_dir: Path) -> int:
    """Issue a test card and verify it; print one JSON line per certificate. Returns the exit code."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pki = TestPki.open(data_dir / "testpki")
    trust_dir = pki.write_trust_directory(data_dir / "trust")
    card = pki.issue_card(now=now)
    trust = load_trust_directory(trust_dir, allow_test_roots=True)
    ok = True
    for profile, cert in ((JPKI_AUTH, card.auth_certificate), (JPKI_SIGN, card.sign_certificate)):
        assert cert is not None
        path = validate_path(cert.public_bytes(Encoding.DER), profile=profile, trust=trust, at=now)
        root = card.auth_root if profile is JPKI_AUTH else card.sign_root
        crl = issue_crl(root, [], this_update=now, next_update=now + dt.timedelta(days=1), crl_number=1)
        status = check_revocation(path.leaf, path.issuer, at=now, policy=RevocationPolicy(),
                                  crls=[load_crl(crl, issuer=path.issuer, at=now)])
        line: dict[str, object] = {
            "profile": profile.purpose.value,
            "root": path.anchor.label,
            "revocation": status.status.value,
            "valid": True,
        }
        if profile is JPKI_SIGN:
            facts = decode_basic_facts(path.leaf)
            line["birthdate"] = facts.birth_date  # demo data from the test PKI, not a person's
        print(json.dumps(line, ensure_ascii=False))
        ok = ok and status.status.value == "good"
    return 0 if ok else 1
