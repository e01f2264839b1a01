"""A stand-in platform operator for tests: ``python -m tests.idp.cardlogin.platform_operator``.

It serves the HTTP binding of :mod:`idp.login.platform` on loopback and answers from the test PKI's revocation
state as a real operator answers from J-LIS's data: the CRLs in ``--crl-dir``, each authenticated against the roots
in ``--trust`` with the verification core, re-read at every request; it takes both request forms of the contract
(the certificate, or its ``certificate_id``). A certificate listed in its issuer's CRL is ``revoked``, one whose
issuer has a fresh CRL is ``good``, any other ``unknown``. Answers are compact JWS (ES256,
``typ`` ``platform-status+jws``) signed with ``--key`` (a P-256 private key in PEM); ``--forge`` signs with a fresh
key instead (an impostor). It prints ``listening on URL`` once ready and one line per answer on standard error
(status and the first 8 hex digits of the certificate hash: nothing personal).

Certificate links (:mod:`keys.revocation.certlink`, request member ``link_for``) come from the test PKI's renewal
records (``--renewals``, the directory holding ``renewals.json``: :mod:`keys.testpki.renewal`), answered as a
JWS of ``typ`` ``platform-link+jws``; ``--link-for-other`` answers about another certificate (a broken operator).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.login.platform import ANSWER_MEDIA_TYPE, ANSWER_TYPE
from keys.errors import VerificationError
from keys.jose.b64 import b64url_decode_loose as _b64decode
from keys.revocation import CrlIndex, Revoked, check_crl, load_crl
from keys.revocation.certlink import LINK_TYPE
from keys.testpki.renewal import previous_of

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def _roots(trust: Path) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(p.read_bytes()) for p in sorted(trust.glob("*.pem"))]


def _indexes(crl_dir: Path, roots: list[x509.Certificate], now: dt.datetime) -> list[CrlIndex]:
    found = []
    for path in sorted(crl_dir.glob("*.crl")):
        data = path.read_bytes()
        issuer = x509.load_der_x509_crl(data).issuer
        for root in roots:
            if root.subject == issuer:
                try:
                    found.append(load_crl(data, issuer=root, at=now))
                    break
                except VerificationError:
                    continue
    return found


def status_of(certificate: x509.Certificate, indexes: list[CrlIndex], now: dt.datetime
              ) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """``good``/``revoked``/``unknown``, the revocation time, and the CRL's nextUpdate."""
    for index in indexes:
        try:
            status = check_crl(index, certificate, at=now, grace=dt.timedelta(0))
        except Revoked as exc:
            return "revoked", exc.status.revoked_at, exc.status.next_update
        except VerificationError:
            continue
        return "good", None, status.next_update
    return "unknown", None, None


def status_by_id(issuer: bytes, serial: int, indexes: list[CrlIndex]
                 ) -> tuple[str, dt.datetime | None, dt.datetime | None]:
    """The same verdict for a certificate known by its issuer's Name (DER) and serial only."""
    for index in indexes:
        if index.issuer_name_der == issuer:
            entry = index.lookup(serial)
            if entry is not None:
                return "revoked", entry.revoked_at, index.next_update
            return "good", None, index.next_update
    return "unknown", None, None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="platform_operator")
    parser.add_argument("--trust", type=Path, required=True)
    parser.add_argument("--crl-dir", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-age", type=int, default=300)
    parser.add_argument("--forge", action="store_true")
    parser.add_argument("--renewals", type=Path)
    parser.add_argument("--link-for-other", action="store_true")
    args = parser.parse_args(argv)
    loaded = serialization.load_pem_private_key(args.key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1()) if args.forge else loaded
    roots = _roots(args.trust)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            if "link_for" in body:
                self._link(body, now)
                return
            indexes = _indexes(args.crl_dir, roots, now)
            if "certificate" in body:
                der = _b64decode(body["certificate"])
                status, revoked_at, next_update = status_of(x509.load_der_x509_certificate(der), indexes, now)
                digest = hashlib.sha256(der).hexdigest()
            else:  # the re-check form: issuer Name and serial, answer bound to the hash given
                ident = body["certificate_id"]
                status, revoked_at, next_update = status_by_id(_b64decode(ident["issuer"]),
                                                               int(ident["serial_number"]), indexes)
                digest = body["certificate_sha256"]
            payload = {
                "operator": args.operator, "certificate_sha256": digest, "status": status,
                "checked_at": now.strftime(_ISO),
                "next_update": next_update.strftime(_ISO) if next_update else None,
                "max_age": args.max_age,
                "revoked_at": revoked_at.strftime(_ISO) if revoked_at else None,
                "reason": None, "nonce": body["nonce"],
            }
            print(f"answer status={status} certificate={digest[:8]}", file=sys.stderr, flush=True)
            self._send(payload, ANSWER_TYPE)

        def _link(self, body: dict[str, Any], now: dt.datetime) -> None:
            digest = hashlib.sha256(_b64decode(body["link_for"])).hexdigest()
            previous = previous_of(args.renewals, digest) if args.renewals else None
            asked = hashlib.sha256(b"another certificate").hexdigest() if args.link_for_other else digest
            print(f"link certificate={digest[:8]} previous={previous is not None}", file=sys.stderr, flush=True)
            self._send({"operator": args.operator, "certificate_sha256": asked, "previous": previous,
                        "checked_at": now.strftime(_ISO), "nonce": body["nonce"]}, LINK_TYPE)

        def _send(self, payload: dict[str, Any], typ: str) -> None:
            token = jwt.api_jws.encode(json.dumps(payload).encode(), key, algorithm="ES256",  # type: ignore[arg-type]
                                       headers={"typ": typ, "kid": "operator-1"})
            data = token.encode()
            self.send_response(200)
            self.send_header("Content-Type", ANSWER_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/status", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
