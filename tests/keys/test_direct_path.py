"""Step 3 direct (keys/x509/path.py ``_direct_path``) against pyca's verifier as the oracle.

For the JPKI profiles, path validation checks ``[leaf, root]`` itself and calls pyca's verifier only when it does
not accept. Its verdict must be pyca's: never accept what pyca's verifier (same profile, trust store, time, extension
policies) refuses, and accept what pyca accepts except in the cases it leaves to pyca by design (values it has not
seen pyca accept, GeneralizedTime validity, anchors with nameConstraints). Leaves are the real profile's variants,
issued by the test roots, by CertificateBuilder or by DER edits of the TBSCertificate re-signed with the root key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import verification as pv
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keys import der as kder
from keys.errors import MalformedInput, UntrustedCertificate
from keys.limits import DEFAULT_LIMITS
from keys.testpki import Root, TestPki
from keys.testpki.hierarchy import make_root
from keys.trust import TrustStore
from keys.x509.path import _direct_path, _verifier, validate_path
from keys.x509.profile import AUTH_POLICY_OID, JPKI_AUTH, JPKI_SIGN, Profile, Purpose
from keys.x509.rawcert import raw_certificate

from .conftest import NOW, LeafBuilder, der

PROFILES = {Purpose.AUTH: JPKI_AUTH, Purpose.SIGN: JPKI_SIGN}


def _ku(**bits: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: bits.get(n, False) for n in names})


def _tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + body


def _children(data: bytes) -> list[bytes]:
    """The TLVs inside the outer SEQUENCE of ``data``."""
    _, start, stop = kder.read_tlv(data, 0, len(data))
    out = []
    while start < stop:
        _, _, end = kder.read_tlv(data, start, stop)
        out.append(data[start:end])
        start = end
    return out


SHA256_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SHA384_RSA = bytes.fromhex("300d06092a864886f70d01010c0500")
SHA1_RSA = bytes.fromhex("300d06092a864886f70d0101050500")
MD5_RSA = bytes.fromhex("300d06092a864886f70d0101040500")
SHA256_RSA_NO_NULL = bytes.fromhex("300b06092a864886f70d01010b")
_HASH_OF = {SHA256_RSA: hashes.SHA256(), SHA384_RSA: hashes.SHA384(), SHA1_RSA: hashes.SHA1(), MD5_RSA: hashes.MD5(),
            SHA256_RSA_NO_NULL: hashes.SHA256()}


def edit(cert: x509.Certificate, key: rsa.RSAPrivateKey, **changes: bytes | None) -> x509.Certificate:
    """Re-sign ``cert`` with ``key`` after replacing TBSCertificate fields (:func:`edit_der`), loaded."""
    return x509.load_der_x509_certificate(edit_der(cert, key, **changes))


def edit_der(cert: x509.Certificate, key: rsa.RSAPrivateKey, *, version: bytes | None = b"keep",
             serial: bytes | None = None, tbs_alg: bytes | None = None, outer_alg: bytes | None = None,
             validity: bytes | None = None, issuer: bytes | None = None) -> bytes:
    """Re-sign ``cert`` with ``key`` after replacing TBSCertificate fields (DER contents/TLVs as given): the DER."""
    tbs = _children(der(cert))[0]
    fields = _children(tbs)
    has_version = fields[0][0] == 0xA0
    head = fields[:1] if has_version else []
    rest = fields[1:] if has_version else fields
    if version != b"keep":
        head = [] if version is None else [_tlv(0xA0, version)]
    serial_tlv, alg, issuer_tlv, validity_tlv, *tail = rest
    if serial is not None:
        serial_tlv = _tlv(0x02, serial)
    alg = tbs_alg or alg
    issuer_tlv = issuer or issuer_tlv
    validity_tlv = validity or validity_tlv
    new_tbs = _tlv(0x30, b"".join([*head, serial_tlv, alg, issuer_tlv, validity_tlv, *tail]))
    signature = key.sign(new_tbs, padding.PKCS1v15(), _HASH_OF[outer_alg or alg])  # as the outer algorithm says
    body = new_tbs + (outer_alg or alg) + _tlv(0x03, b"\x00" + signature)
    return _tlv(0x30, body)


def _utc(moment: dt.datetime) -> bytes:
    return _tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())


def _generalized(moment: dt.datetime) -> bytes:
    return _tlv(0x18, moment.strftime("%Y%m%d%H%M%SZ").encode())


@pytest.fixture(scope="module")
def store(pki: TestPki) -> TrustStore:
    """A test-mode store over every root, primed: one ordinary leaf per purpose accepted through pyca's verifier,
    which proves the anchors' CA rules and the AIA/basicConstraints values of the real profile."""
    trust = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())], allow_test_roots=True)
    for purpose, profile in PROFILES.items():
        for generation in (2, 3):
            leaf = pki.issue_card(now=NOW, generation=generation)
            cert = leaf.auth_certificate if purpose is Purpose.AUTH else leaf.sign_certificate
            validate_path(cert, profile=profile, trust=trust, at=NOW)
    return trust


@dataclass(frozen=True)
class Verdicts:
    pyca: bool
    direct: bool
    pyca_message: str


def verdicts(cert: x509.Certificate, profile: Profile, trust: TrustStore, at: dt.datetime = NOW) -> Verdicts:
    anchors = trust.anchors_for(profile.purpose)
    verifier = _verifier(trust, profile, anchors, int(at.timestamp()), None, DEFAULT_LIMITS.chain_depth)
    try:
        verifier.verify(cert, [])
        pyca, message = True, ""
    except (pv.VerificationError, ValueError) as exc:
        pyca, message = False, str(exc).splitlines()[0][:160]
    raw = raw_certificate(der(cert))
    direct = _direct_path(cert, raw, profile, trust, anchors, at, raw.authority_key_id()) is not None
    return Verdicts(pyca, direct, message)


def assert_same(cert: x509.Certificate, profile: Profile, trust: TrustStore, at: dt.datetime = NOW) -> Verdicts:
    found = verdicts(cert, profile, trust, at)
    assert found.direct == found.pyca, found
    return found


def assert_never_more_lenient(cert: x509.Certificate, profile: Profile, trust: TrustStore,
                              at: dt.datetime = NOW) -> Verdicts:
    found = verdicts(cert, profile, trust, at)
    assert not (found.direct and not found.pyca), found
    return found


# --- explicit cases ---------------------------------------------------------------------------------------------

Case = Callable[[LeafBuilder, TestPki], x509.Certificate]
UNKNOWN = ObjectIdentifier("1.3.6.1.4.1.99999.1")
OTHER_POLICY = ObjectIdentifier("1.2.392.200149.8.5.1.3.99")


def _policies(*oids: ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(o, None) for o in oids])


EXTENSION_CASES: dict[str, tuple[Purpose, dict[str, object], bool]] = {
    # name: (purpose, build_leaf options, pyca accepts)
    "auth as issued": (Purpose.AUTH, {}, True),
    "sign as issued": (Purpose.SIGN, {}, True),
    "unknown critical extension": (Purpose.AUTH, {"add": [(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True)]},
                                   False),
    "unknown non-critical extension": (Purpose.AUTH,
                                       {"add": [(x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), False)]}, True),
    "basicConstraints cA true": (Purpose.AUTH, {"add": [(x509.BasicConstraints(True, None), True)]}, False),
    "basicConstraints cA true non-critical": (Purpose.AUTH, {"add": [(x509.BasicConstraints(True, 0), False)]}, False),
    "nameConstraints in the leaf": (Purpose.AUTH,
                                    {"add": [(x509.NameConstraints([x509.DNSName("example.jp")], None), True)]}, False),
    "AKI absent": (Purpose.AUTH, {"drop": (x509.AuthorityKeyIdentifier,)}, False),
    "AKI critical": (Purpose.AUTH, {"replace": {x509.AuthorityKeyIdentifier(b"k" * 20, None, None): True}}, False),
    "AKI naming another key": (Purpose.AUTH, {"replace": {x509.AuthorityKeyIdentifier(b"k" * 20, None, None): False}},
                               True),
    "SKI critical": (Purpose.AUTH, {"replace": {x509.SubjectKeyIdentifier(b"s" * 20): True}}, True),
    "SKI absent": (Purpose.AUTH, {"drop": (x509.SubjectKeyIdentifier,)}, True),
    "KeyUsage absent": (Purpose.AUTH, {"drop": (x509.KeyUsage,)}, False),
    "KeyUsage non-critical": (Purpose.AUTH, {"replace": {_ku(digital_signature=True): False}}, False),
    "KeyUsage wrong bits (3b's, not step 3's)": (Purpose.AUTH,
                                                 {"replace": {_ku(key_encipherment=True, key_cert_sign=True): True}},
                                                 True),
    "certificatePolicies absent": (Purpose.AUTH, {"drop": (x509.CertificatePolicies,)}, False),
    "certificatePolicies non-critical": (Purpose.AUTH, {"replace": {_policies(AUTH_POLICY_OID): False}}, False),
    "certificatePolicies wrong OID (3b's)": (Purpose.AUTH, {"replace": {_policies(OTHER_POLICY): True}}, True),
    "certificatePolicies two policies (3b's)": (Purpose.AUTH,
                                                {"replace": {_policies(AUTH_POLICY_OID, OTHER_POLICY): True}}, True),
    "EKU critical": (Purpose.AUTH,
                     {"replace": {x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]): True}}, False),
    "EKU serverAuth (3b's)": (Purpose.AUTH,
                              {"replace": {x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]): False}}, True),
    "EKU absent": (Purpose.AUTH, {"drop": (x509.ExtendedKeyUsage,)}, True),
    "SAN on auth": (Purpose.AUTH, {"add": [(x509.SubjectAlternativeName([x509.DNSName("a.example")]), False)]}, False),
    "SAN absent on sign": (Purpose.SIGN, {"drop": (x509.SubjectAlternativeName,)}, False),
    "SAN critical on sign": (Purpose.SIGN,
                             {"replace": {x509.SubjectAlternativeName([x509.DNSName("a.example")]): True}}, False),
    "issuerAltName critical": (Purpose.AUTH,
                               {"replace": {x509.IssuerAlternativeName([x509.DNSName("a.example")]): True}}, False),
    "CRLDP critical": (Purpose.AUTH, {"replace": {x509.CRLDistributionPoints([x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.example/")], None, None, None)]): True}}, False),
    "AIA critical": (Purpose.AUTH, {"replace": {x509.AuthorityInformationAccess([x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://ocsp.example/"))]): True}},
                     False),
    "inhibitAnyPolicy critical": (Purpose.AUTH, {"add": [(x509.InhibitAnyPolicy(0), True)]}, False),
    "RSA 1024 leaf key (step 2's)": (Purpose.AUTH, {"key": "rsa1024"}, True),
    "e = 3 leaf key (step 2's)": (Purpose.AUTH, {"key": "e3"}, True),
    "EC leaf key (step 2's)": (Purpose.AUTH, {"key": "ec"}, True),
}
#: Accepted by pyca, left to pyca by the direct step: values it has not seen pyca accept.
DEFERRED = {"basicConstraints cA false, critical", "AIA other value"}
EXTENSION_CASES |= {
    "basicConstraints cA false, critical": (Purpose.AUTH, {"add": [(x509.BasicConstraints(False, None), True)]}, True),
    "AIA other value": (Purpose.AUTH, {"replace": {x509.AuthorityInformationAccess([x509.AccessDescription(
        x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier("http://other.example/"))]):
        False}}, True),
}


def _key(name: object) -> object:
    if name == "rsa1024":
        return rsa.generate_private_key(65537, 1024).public_key()
    if name == "e3":
        return rsa.generate_private_key(3, 2048).public_key()
    if name == "ec":
        return ec.generate_private_key(ec.SECP256R1()).public_key()
    return None


@pytest.mark.parametrize("name", sorted(EXTENSION_CASES))
def test_extension_and_key_cases(name: str, build_leaf: LeafBuilder, store: TrustStore) -> None:
    purpose, options, pyca_accepts = EXTENSION_CASES[name]
    options = dict(options)
    if "key" in options:
        options["key"] = _key(options["key"])
    cert = build_leaf(purpose=purpose, **options)
    profile = PROFILES[purpose]
    if name in DEFERRED:
        found = assert_never_more_lenient(cert, profile, store)
        assert found.pyca
        assert not found.direct
    else:
        found = assert_same(cert, profile, store)
        assert found.pyca is pyca_accepts, found


def test_basic_constraints_value_proven_by_pyca_is_then_accepted(build_leaf: LeafBuilder, pki: TestPki) -> None:
    trust = TrustStore.build([(f"r{i}", der(r.certificate)) for i, r in enumerate(pki.roots())], allow_test_roots=True)
    cert = build_leaf(add=[(x509.BasicConstraints(False, None), True)])
    assert not verdicts(cert, JPKI_AUTH, trust).direct  # nothing proven yet: not even the anchor
    validate_path(cert, profile=JPKI_AUTH, trust=trust, at=NOW)  # pyca accepts: the value and the anchor are proven
    assert_same(build_leaf(add=[(x509.BasicConstraints(False, None), True)]), JPKI_AUTH, trust)
    assert verdicts(cert, JPKI_AUTH, trust).direct


@pytest.mark.parametrize(
    ("delta", "accepted"),
    [
        (dt.timedelta(seconds=-1), False),
        (dt.timedelta(0), True),
        (dt.timedelta(microseconds=999_999), True),
        (dt.timedelta(seconds=1), True),
    ],
)
def test_validity_boundaries(delta: dt.timedelta, accepted: bool, build_leaf: LeafBuilder, store: TrustStore) -> None:
    not_before = NOW - dt.timedelta(days=3)
    not_after = NOW + dt.timedelta(days=3)
    cert = build_leaf(not_before=not_before, not_after=not_after)
    assert assert_same(cert, JPKI_AUTH, store, at=not_before + delta).pyca is accepted
    after = not_after - delta if delta >= dt.timedelta(0) else not_after + dt.timedelta(seconds=1)
    assert_same(cert, JPKI_AUTH, store, at=after)
    assert assert_same(cert, JPKI_AUTH, store, at=not_after + dt.timedelta(microseconds=500_000)).pyca
    assert not assert_same(cert, JPKI_AUTH, store, at=not_after + dt.timedelta(seconds=1)).pyca


def test_validity_outside_the_root(build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 2).certificate
    at = root.not_valid_after_utc + dt.timedelta(seconds=1)
    cert = build_leaf(generation=2, not_before=at - dt.timedelta(days=1), not_after=at + dt.timedelta(days=1))
    assert not assert_same(cert, JPKI_AUTH, store, at=at).pyca
    assert assert_same(cert, JPKI_AUTH, store, at=root.not_valid_after_utc).pyca


@pytest.mark.parametrize(
    ("name", "changes", "accepted"),
    [
        ("as issued", {}, True),
        ("v1", {"version": None}, False),
        ("serial 0 (pyca admits it; step 2 refuses it)", {"serial": b"\x00"}, True),
        ("serial negative", {"serial": b"\x80\x01"}, False),
        ("serial 20 octets", {"serial": b"\x7f" + b"\x01" * 19}, True),
        ("serial 21 octets", {"serial": b"\x00" + b"\x81" * 20}, True),
        ("serial 22 octets", {"serial": b"\x00" + b"\x81" * 21}, False),
        ("SHA-1", {"tbs_alg": SHA1_RSA}, False),
        ("MD5", {"tbs_alg": MD5_RSA}, False),
        ("SHA-384", {"tbs_alg": SHA384_RSA}, True),
        ("no NULL parameters", {"tbs_alg": SHA256_RSA_NO_NULL}, False),
        ("TBS and outer algorithms differ", {"tbs_alg": SHA384_RSA, "outer_alg": SHA256_RSA}, False),
        ("TBS and outer algorithms differ, the other way", {"tbs_alg": SHA256_RSA, "outer_alg": SHA384_RSA}, False),
    ],
)
def test_der_edits(name: str, changes: dict[str, bytes | None], accepted: bool, build_leaf: LeafBuilder,
                   pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 3)
    cert = edit(build_leaf(), root.key, **changes)
    assert assert_same(cert, JPKI_AUTH, store).pyca is accepted


def test_a_v2_certificate_is_refused_when_parsed(build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    """cryptography loads no v2 certificate, so neither step 3 ever sees one: the path refuses it as malformed."""
    v2 = edit_der(build_leaf(), pki.root(Purpose.AUTH, 3).key, version=b"\x02\x01\x01")
    with pytest.raises(MalformedInput):
        validate_path(v2, profile=JPKI_AUTH, trust=store, at=NOW)


def test_generalized_time_validity_is_left_to_pyca(build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 3)
    nb, na = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=1)
    for validity, accepted in [
        (_tlv(0x30, _utc(nb) + _utc(na)), True),
        (_tlv(0x30, _generalized(nb) + _utc(na)), False),  # GeneralizedTime before 2050: pyca refuses
        (_tlv(0x30, _utc(nb) + _generalized(na)), False),
    ]:
        cert = edit(build_leaf(), root.key, validity=validity)
        assert assert_same(cert, JPKI_AUTH, store).pyca is accepted


def test_pss_and_ecdsa_signatures(build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 3)
    template = build_leaf()
    builder = (x509.CertificateBuilder().subject_name(template.subject).issuer_name(template.issuer)
               .public_key(template.public_key()).serial_number(template.serial_number)
               .not_valid_before(template.not_valid_before_utc).not_valid_after(template.not_valid_after_utc))
    for ext in template.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    pss = builder.sign(root.key, hashes.SHA256(), rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), 32))
    assert_same(pss, JPKI_AUTH, store)
    odd_salt = builder.sign(root.key, hashes.SHA256(), rsa_padding=padding.PSS(padding.MGF1(hashes.SHA256()), 20))
    assert not assert_same(odd_salt, JPKI_AUTH, store).pyca
    ec_signer = ec.generate_private_key(ec.SECP256R1())
    assert not assert_same(builder.sign(ec_signer, hashes.SHA256()), JPKI_AUTH, store).pyca


def _name_variant(name: x509.Name, how: str) -> x509.Name:
    attributes = []
    for attribute in name:
        value = str(attribute.value)
        if attribute.oid == NameOID.COUNTRY_NAME:
            kind = _ASN1Type.UTF8String if how == "utf8" else _ASN1Type.PrintableString
            attributes.append(x509.NameAttribute(attribute.oid, value, _type=kind))
        elif attribute.oid == NameOID.ORGANIZATION_NAME and how == "case":
            attributes.append(x509.NameAttribute(attribute.oid, value.lower()))
        else:
            attributes.append(attribute)
    return x509.Name(attributes)


@pytest.mark.parametrize("how", ["utf8", "case"])
def test_issuer_encoded_differently(how: str, build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 3)
    issuer = _name_variant(root.certificate.issuer, how)
    assert issuer.public_bytes() != root.certificate.subject.public_bytes()
    cert = edit(build_leaf(), root.key, issuer=issuer.public_bytes())
    assert not assert_same(cert, JPKI_AUTH, store).pyca


def test_signers(build_leaf: LeafBuilder, pki: TestPki, store: TrustStore) -> None:
    forger = make_root(Purpose.AUTH, 3)  # the pinned root's DN, another key
    cases: list[tuple[Root, bool]] = [
        (pki.root(Purpose.AUTH, 3), True),
        (pki.root(Purpose.AUTH, 2), False),  # another generation's key under generation 3's name... same DN
        (forger, False),
        (pki.root(Purpose.SIGN, 3), False),  # the right kind of root, of the wrong purpose
    ]
    for signer, accepted in cases:
        cert = build_leaf(signer=signer)
        found = assert_same(cert, JPKI_AUTH, store)
        # generation 2 shares the DN: pyca tries every generation and finds it by signature
        assert found.pyca is (accepted or signer is pki.root(Purpose.AUTH, 2)), found
    sign_leaf = build_leaf(purpose=Purpose.SIGN)
    assert not assert_same(sign_leaf, JPKI_AUTH, store).pyca  # a signing leaf where an auth one is due


def test_leaf_that_is_an_anchor(pki: TestPki, store: TrustStore) -> None:
    root = pki.root(Purpose.AUTH, 3).certificate
    assert_never_more_lenient(root, JPKI_AUTH, store)
    assert not verdicts(root, JPKI_AUTH, store).direct


def root_with(pki: TestPki, purpose: Purpose, extension: x509.ExtensionType, *, critical: bool) -> x509.Certificate:
    """The generation-3 root of ``purpose`` re-signed by its own key with ``extension`` added (same name and key)."""
    good = pki.root(purpose, 3)
    cert = good.certificate
    builder = (x509.CertificateBuilder().subject_name(cert.subject).issuer_name(cert.issuer)
               .public_key(good.key.public_key()).serial_number(cert.serial_number)
               .not_valid_before(cert.not_valid_before_utc).not_valid_after(cert.not_valid_after_utc))
    for ext in cert.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
    return builder.add_extension(extension, critical).sign(good.key, hashes.SHA256())


def test_anchor_refused_by_pyca_ca_rules_is_never_used(build_leaf: LeafBuilder, pki: TestPki) -> None:
    """A root pyca's CA policy refuses (for a client verifier, a CA EKU must name clientAuth or anyEKU): the direct
    step uses an anchor only once pyca has accepted a path through it, so it refuses as pyca does."""
    odd_root = root_with(pki, Purpose.AUTH, x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    trust = TrustStore.build([("odd", der(odd_root)), ("gen2", der(pki.root(Purpose.AUTH, 2).certificate))],
                             allow_test_roots=True)
    primer = build_leaf(generation=2)  # proves the generation-2 anchor and the profile's AIA value, not the odd root
    validate_path(primer, profile=JPKI_AUTH, trust=trust, at=NOW)
    assert verdicts(primer, JPKI_AUTH, trust).direct
    leaf = build_leaf()
    for _ in range(2):
        found = assert_same(leaf, JPKI_AUTH, trust)
        assert not found.pyca, found
        with pytest.raises(UntrustedCertificate):
            validate_path(leaf, profile=JPKI_AUTH, trust=trust, at=NOW)


def test_anchor_name_constraints_are_left_to_pyca(build_leaf: LeafBuilder, pki: TestPki) -> None:
    """An anchor's nameConstraints apply to each leaf's names (RFC 5280 §4.2.1.10): an anchor proven on one leaf
    says nothing of the next one's names, so the direct step leaves such anchors to pyca."""
    constrained = root_with(pki, Purpose.SIGN, x509.NameConstraints([x509.DNSName("example.jp")], None), critical=True)
    trust = TrustStore.build([("nc", der(constrained))], allow_test_roots=True)
    inside = build_leaf(purpose=Purpose.SIGN, replace={x509.SubjectAlternativeName([x509.DNSName("a.example.jp")]):
                                                       False})
    outside = build_leaf(purpose=Purpose.SIGN, replace={x509.SubjectAlternativeName([x509.DNSName("a.example.com")]):
                                                        False})
    assert verdicts(inside, JPKI_SIGN, trust).pyca
    validate_path(inside, profile=JPKI_SIGN, trust=trust, at=NOW)  # pyca accepts: the anchor is proven
    found = assert_never_more_lenient(outside, JPKI_SIGN, trust)
    assert not found.pyca, found
    assert not verdicts(inside, JPKI_SIGN, trust).direct  # left to pyca, which accepts it


# --- generated variants -----------------------------------------------------------------------------------------

_EXTRA = st.sampled_from([
    None, None, None, None, None, None,
    (x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), True),
    (x509.UnrecognizedExtension(UNKNOWN, b"\x05\x00"), False),
    (x509.BasicConstraints(True, None), True),
    (x509.BasicConstraints(False, None), False),
    (x509.NameConstraints([x509.DNSName("example.jp")], None), True),
    (x509.PolicyConstraints(0, None), False),
    (x509.InhibitAnyPolicy(0), True),
])
_DROP = st.sampled_from([(), (), (), (), (), (), (x509.AuthorityKeyIdentifier,), (x509.KeyUsage,),
                         (x509.CertificatePolicies,), (x509.SubjectKeyIdentifier,), (x509.ExtendedKeyUsage,),
                         (x509.SubjectAlternativeName,),
                         (x509.AuthorityInformationAccess,)])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    purpose=st.sampled_from([Purpose.AUTH, Purpose.SIGN]),
    same_profile=st.sampled_from([True, True, True, False]),
    generation=st.sampled_from([1, 2, 3, 3]),
    signer=st.sampled_from(["own", "own", "own", "own", "other generation", "other purpose", "forger"]),
    extra=_EXTRA,
    drop=_DROP,
    flip=st.sampled_from([None, None, None, None, None, x509.KeyUsage, x509.CertificatePolicies,
                          x509.AuthorityKeyIdentifier, x509.ExtendedKeyUsage, x509.SubjectAlternativeName,
                          x509.SubjectKeyIdentifier]),
    start=st.integers(-3, 3),
    at_offset=st.integers(-2, 2),
    at_micro=st.sampled_from([0, 1, 500_000, 999_999]),
    at_edge=st.sampled_from(["before", "after"]),
)
def test_generated_variants_agree_with_pyca(
    purpose: Purpose, same_profile: bool, generation: int, signer: str, extra: tuple[x509.ExtensionType, bool]
    | None, drop: tuple[type[x509.ExtensionType], ...], flip: type[x509.ExtensionType] | None, start: int,
    at_offset: int, at_micro: int, at_edge: str, build_leaf: LeafBuilder, pki: TestPki, store: TrustStore,
    forger: Root,
) -> None:
    not_before = NOW - dt.timedelta(days=10) + dt.timedelta(seconds=start)
    not_after = NOW + dt.timedelta(days=10)
    signers = {
        "own": pki.root(purpose, generation),
        "other generation": pki.root(purpose, 3 if generation != 3 else 2),
        "other purpose": pki.root(Purpose.SIGN if purpose is Purpose.AUTH else Purpose.AUTH, generation),
        "forger": forger,
    }
    template = build_leaf(purpose=purpose, generation=generation, not_before=not_before, not_after=not_after)
    replace: dict[x509.ExtensionType, bool] = {}
    if flip is not None:
        for ext in template.extensions:
            if isinstance(ext.value, flip):
                replace[ext.value] = not ext.critical
    cert = build_leaf(purpose=purpose, generation=generation, signer=signers[signer], drop=drop, replace=replace,
                      add=[extra] if extra else [], not_before=not_before, not_after=not_after)
    edge = not_before if at_edge == "before" else not_after
    at = edge + dt.timedelta(seconds=at_offset, microseconds=at_micro)
    profile = PROFILES[purpose] if same_profile else PROFILES[Purpose.SIGN if purpose is Purpose.AUTH else Purpose.AUTH]
    found = assert_never_more_lenient(cert, profile, store, at)
    deferred = extra is not None and isinstance(extra[0], x509.BasicConstraints) and not extra[0].ca
    if not deferred:
        assert found.direct == found.pyca, found


@pytest.fixture(scope="module")
def forger() -> Root:
    return make_root(Purpose.AUTH, 3)
