"""A timestamp authority on loopback (RFC 3161 over HTTP, §3.4): pyHanko's DummyTimeStamper answering POSTed
TimeStampReqs, with its own root and a TSA certificate (EKU id-kp-timeStamping, critical, RFC 3161 §2.3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.http import Peer, serve


@dataclass(frozen=True)
class LoopbackTsa:
    url: str
    root_der: bytes
    server: ThreadingHTTPServer


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TSA-TEST"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def start_tsa(now: dt.datetime) -> LoopbackTsa:
    """Start a TSA whose tokens carry ``now`` as genTime."""
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = now - dt.timedelta(days=30), now + dt.timedelta(days=365)
    root = (x509.CertificateBuilder().subject_name(_name("Test TSA root")).issuer_name(_name("Test TSA root"))
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name("Test TSA")).issuer_name(root.subject)
            .public_key(tsa_key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .sign(root_key, hashes.SHA256()))
    root_der, leaf_der = (c.public_bytes(serialization.Encoding.DER) for c in (root, leaf))
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(leaf_der),
        tsa_key=asn1_keys.PrivateKeyInfo.load(tsa_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        certs_to_embed=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(root_der)]),
        fixed_dt=now,
    )

    class Handler(Peer):
        def do_POST(self) -> None:
            response = stamper.request_tsa_response(tsp.TimeStampReq.load(self.body()))
            self.answer(200, response.dump(), "application/timestamp-reply")

    server, url = serve(Handler)
    return LoopbackTsa(url, root_der, server)
