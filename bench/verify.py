"""``python -m bench verify``: complete JPKI login verifications per second on one core.

One login verification is what the service does when a card answers a challenge:

1. :func:`keys.x509.path.validate_path` of the authentication certificate (DER, as read from the card) to
   its pinned root (JPKI_AUTH profile, test-mode trust store over a :class:`~keys.testpki.TestPki`);
2. :func:`keys.revocation.crl.check_crl` against a CRL of 1,000,000 revoked serials;
3. :meth:`keys.x509.path.ValidatedPath.verify_card_signature` of the card's signature over the challenge
   (the call :func:`keys.cardlogin.verify_card_login` makes).

Side by side, in the same process and over the same inputs:

* **bare**: the same work with bare cryptography calls and no checks (parse the DER, verify the issuer's
  signature, look the serial up in a set, verify the challenge signature): the ceiling;
* **pyhanko**: pyhanko-certvalidator's ``CertificateValidator.async_validate_path`` (chain and CRL,
  ``revocation_mode`` hard-fail, ``moment`` fixed) followed by the same bare challenge-signature check.

What is timed: only the per-login work. The CRL is parsed once, outside the timed loops: ours with
:func:`~keys.revocation.crl.load_crl` (its time is reported as ``crl_load_s``), bare into a ``set`` of
serials (``bare_crl_load_s``). pyhanko gets the CRL as one asn1crypto object and one ``ValidationContext``
built outside the loop (the most favourable use of it); by its design it decodes the entries lazily on
first use (in the untimed warm-up) and scans them linearly on every validation (timed). Every contender
first runs one untimed pass (warm-up, and a check that it accepts the pool and refuses a revoked card).
Per-login work is timed in CPU time of the process (:data:`CLOCK`), ours and bare alternating run by run.
Each of ours and bare is timed ``--repeat`` times and the best run is reported, as ``timeit`` does.

The pool has ``--pool`` distinct certificates and challenges; ``--keys`` RSA keys are shared among the
certificates to keep key generation short.

The CRL's serial index (:mod:`keys.revocation.serial_index`) is measured as a deployment uses it: built into a
fresh directory by a child process (``crl_index_build_s``; ``crl_index_build_peak_mib`` is that child's peak
resident memory, the CRL's DER included), then mapped by another child (``crl_index_load_s``: authenticating
the CRL and checking the index file whole) that times ``--lookups`` lookups of random serials, a tenth of them
listed (``crl_index_lookup_us``); ``crl_index_bytes_per_serial`` is the file's size over the serials. The timed
logins of ours use that mapped file. ``--index-only`` measures just these figures (for CRLs of 10,000,000
entries, where the pyhanko contender would scan for minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import resource
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cryptography
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pyhanko_certvalidator import CertificateValidator, ValidationContext

from keys.revocation.crl import CrlIndex, check_crl, load_crl
from keys.testpki import Root, TestPki
from keys.testpki.hierarchy import HolderFacts, crl_distribution_name, issue_card_certificate, new_rsa_key
from keys.testpki.revocation import issue_large_crl
from keys.trust import TrustStore
from keys.x509.path import validate_path
from keys.x509.profile import JPKI_AUTH, Purpose

AT = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
NO_GRACE = dt.timedelta(0)
_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


@dataclass(frozen=True, slots=True)
class Login:
    """What the service receives in one login: the certificate read from the card, the challenge it sent
    (with its context) and the card's signature over it."""

    certificate: bytes
    message: bytes
    signature: bytes


@dataclass(frozen=True)
class Fixture:
    """Everything built before timing."""

    root: Root
    trust: TrustStore
    logins: tuple[Login, ...]
    revoked_login: Login
    crl: bytes


def large_crl(root: Root, crl_entries: int, seed: int, listed: Sequence[int] = (), avoid: frozenset[int] = frozenset()
              ) -> bytes:
    """A CRL of ``crl_entries`` random 63-bit serials (``listed`` among them, none of ``avoid``) naming the cards'
    CRL distribution point."""
    rng = random.Random(seed)
    serials: list[int] = []
    while len(serials) < crl_entries - len(listed):
        serial = rng.getrandbits(63)
        if serial not in avoid:
            serials.append(serial)
    for serial in listed:
        serials.insert(len(serials) // 2, serial)
    facts = HolderFacts()
    return issue_large_crl(
        root, serials, revoked_at=AT - dt.timedelta(days=2), this_update=AT - dt.timedelta(hours=1),
        next_update=AT + dt.timedelta(hours=23), crl_number=1,
        idp_name=crl_distribution_name(Purpose.AUTH, facts.prefecture_romaji, facts.municipality_romaji),
    )


def build_fixture(pool: int, keys: int, crl_entries: int, seed: int) -> Fixture:
    """A test PKI, ``pool`` logins (certificates and challenges all distinct, keys shared), one revoked login,
    and a CRL of ``crl_entries`` serials naming the cards' CRL distribution point."""
    pki = TestPki.generate()
    root = pki.root(Purpose.AUTH, 3)
    trust = TrustStore.build(
        [(f"root-{i}", r.certificate.public_bytes(serialization.Encoding.DER)) for i, r in enumerate(pki.roots())],
        allow_test_roots=True,
    )
    card_keys = [new_rsa_key() for _ in range(keys)]

    def login(index: int) -> Login:
        key = card_keys[index % keys]
        cert = issue_card_certificate(
            root, key.public_key(), not_before=AT - dt.timedelta(days=30), not_after=AT + dt.timedelta(days=365)
        )
        message = secrets.token_bytes(32) + b"|login.example|" + index.to_bytes(4, "big")
        return Login(cert.public_bytes(serialization.Encoding.DER), message, key.sign(message, _PKCS1V15, _SHA256))

    logins = tuple(login(i) for i in range(pool))
    revoked = login(pool)
    in_pool = frozenset(x509.load_der_x509_certificate(item.certificate).serial_number for item in logins)
    revoked_serial = x509.load_der_x509_certificate(revoked.certificate).serial_number
    crl = large_crl(root, crl_entries, seed, [revoked_serial], in_pool)
    return Fixture(root, trust, logins, revoked, crl)


def _build_index(crl_file: str, root_der: bytes, index_dir: str) -> tuple[float, float]:
    """In a child process: build the index file; its time and the child's peak resident memory (MiB)."""
    root = x509.load_der_x509_certificate(root_der)
    data = Path(crl_file).read_bytes()
    started = time.perf_counter()
    load_crl(data, issuer=root, at=AT, index_dir=Path(index_dir))
    elapsed = time.perf_counter() - started
    return elapsed, peak_resident_mib()


def peak_resident_mib() -> float:
    """This process's peak resident memory since it was executed (``VmHWM``; ``ru_maxrss`` would also count the
    parent's memory the child was forked with before its exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _map_index(crl_file: str, root_der: bytes, index_dir: str, lookups: int, seed: int) -> dict[str, float]:
    """In a child process: map the built index (timed) and time lookups of random serials, a tenth listed."""
    root = x509.load_der_x509_certificate(root_der)
    data = Path(crl_file).read_bytes()
    started = time.perf_counter()
    index = load_crl(data, issuer=root, at=AT, index_dir=Path(index_dir))
    load_s = time.perf_counter() - started
    rng = random.Random(seed + 1)
    listed = [serial for serial, _ in zip(index.serials(), range(lookups // 10), strict=False)]
    probes = listed + [rng.getrandbits(63) for _ in range(lookups - len(listed))]
    rng.shuffle(probes)
    started = CLOCK()
    found = sum(index.lookup(serial) is not None for serial in probes)
    lookup_us = (CLOCK() - started) / len(probes) * 1e6
    if found < len(listed):
        raise SystemExit("the index lost a listed serial")
    return {"crl_index_load_s": round(load_s, 3), "crl_index_lookup_us": round(lookup_us, 2),
            "crl_index_bytes_per_serial": round(index.index_bytes / len(index), 3),
            "crl_der_bytes_per_serial": round(len(data) / len(index), 1)}


def index_figures(crl: bytes, root: x509.Certificate, directory: Path, lookups: int, seed: int) -> dict[str, float]:
    """Build the CRL's index file in one child process and map it in another (see the module docstring)."""
    crl_file = directory / "bench.crl"
    crl_file.write_bytes(crl)
    root_der = root.public_bytes(serialization.Encoding.DER)
    index_dir = directory / "index"
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        build_s, peak_mib = pool.apply(_build_index, (str(crl_file), root_der, str(index_dir)))
    with context.Pool(1) as pool:
        mapped = pool.apply(_map_index, (str(crl_file), root_der, str(index_dir), lookups, seed))
    return {"crl_index_build_s": round(build_s, 2), "crl_index_build_peak_mib": round(peak_mib, 1), **mapped}


def ours(index: CrlIndex, trust: TrustStore) -> Callable[[Login], None]:
    """One complete login verification with the verification core."""

    def verify(login: Login) -> None:
        path = validate_path(login.certificate, profile=JPKI_AUTH, trust=trust, at=AT)
        check_crl(index, path.raw, at=AT, grace=NO_GRACE)
        path.verify_card_signature(login.signature, login.message)

    return verify


def bare(revoked: frozenset[int], root: x509.Certificate) -> Callable[[Login], None]:
    """The same work with bare cryptography calls and no checks."""

    def verify(login: Login) -> None:
        cert = x509.load_der_x509_certificate(login.certificate)
        cert.verify_directly_issued_by(root)
        if cert.serial_number in revoked:
            raise LookupError("revoked")
        cast(rsa.RSAPublicKey, cert.public_key()).verify(login.signature, login.message, _PKCS1V15, _SHA256)

    return verify


def pyhanko(context: ValidationContext) -> Callable[[Login], None]:
    """pyhanko-certvalidator's chain and CRL validation, then the bare challenge-signature check."""

    def verify(login: Login) -> None:
        validator = CertificateValidator(asn1_x509.Certificate.load(login.certificate), validation_context=context)
        asyncio.run(validator.async_validate_path())
        cert = x509.load_der_x509_certificate(login.certificate)
        cast(rsa.RSAPublicKey, cert.public_key()).verify(login.signature, login.message, _PKCS1V15, _SHA256)

    return verify


#: The clock of the per-login timings: CPU time of this (single-threaded) process, so that other processes
#: sharing the core do not count against whichever contender they happen to overlap.
CLOCK = time.process_time


def rates(contenders: dict[str, Callable[[Login], None]], logins: Sequence[Login], iterations: int,
          repeat: int) -> dict[str, float]:
    """Best verifications per second of each contender over ``repeat`` rounds, each round timing one run of
    ``iterations`` logins (cycling through the pool) of every contender in turn."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeat):
        for name, verify in contenders.items():
            start = CLOCK()
            for i in range(iterations):
                verify(logins[i % len(logins)])
            best[name] = min(best[name], CLOCK() - start)
    return {name: iterations / seconds for name, seconds in best.items()}


def check_contender(name: str, verify: Callable[[Login], None], fixture: Fixture, sample: int) -> None:
    """Untimed pass: the contender accepts the pool and refuses the revoked card (a bench of a broken
    verifier measures nothing)."""
    for login in fixture.logins[:sample]:
        verify(login)
    try:
        verify(fixture.revoked_login)
    except Exception:  # each contender has its own error type; any refusal will do
        return
    raise SystemExit(f"{name} accepted a revoked certificate")


def pin_to_one_core() -> int | None:
    """Run on one CPU (Linux); returns it, or ``None`` where affinity cannot be set."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def main(argv: list[str]) -> int:
    """Build the fixture, time the three contenders and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench verify", description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1000, help="distinct certificates and challenges")
    parser.add_argument("--keys", type=int, default=32, help="RSA keys shared among the certificates")
    parser.add_argument("--crl-entries", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=5000, help="timed logins per run (ours and bare)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed rounds (ours and bare alternating); the best of each is kept")
    parser.add_argument("--pyhanko-iterations", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--lookups", type=int, default=100_000, help="timed lookups in the mapped CRL index")
    parser.add_argument("--index-only", action="store_true", help="only the CRL index figures (no logins)")
    args = parser.parse_args(argv)
    cpu = pin_to_one_core()
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
        if args.index_only:
            return index_only(args, Path(scratch), cpu)
        return contenders_run(args, Path(scratch), cpu)


def index_only(args: argparse.Namespace, scratch: Path, cpu: int | None) -> int:
    """``--index-only``: a CRL of ``--crl-entries`` and its index figures."""
    started = time.perf_counter()
    root = TestPki.generate().root(Purpose.AUTH, 3)
    crl = large_crl(root, args.crl_entries, args.seed)
    setup_s = time.perf_counter() - started
    result = {"bench": "verify-index", "crl_entries": args.crl_entries, "crl_bytes": len(crl),
              **index_figures(crl, root.certificate, scratch, args.lookups, args.seed),
              "lookups": args.lookups, "setup_s": round(setup_s, 1), "cpu": cpu, "python": platform.python_version()}
    print(json.dumps(result), file=sys.stdout)
    return 0


def contenders_run(args: argparse.Namespace, scratch: Path, cpu: int | None) -> int:
    """The three contenders over the fixture, and the index figures of its CRL."""

    started = time.perf_counter()
    fixture = build_fixture(args.pool, args.keys, args.crl_entries, args.seed)
    setup_s = time.perf_counter() - started

    started = time.perf_counter()
    load_crl(fixture.crl, issuer=fixture.root.certificate, at=AT)  # indexed in memory, as without an index_dir
    crl_load_s = time.perf_counter() - started
    figures = index_figures(fixture.crl, fixture.root.certificate, scratch, args.lookups, args.seed)
    index = load_crl(fixture.crl, issuer=fixture.root.certificate, at=AT, index_dir=scratch / "index")
    started = time.perf_counter()
    revoked = frozenset(entry.serial_number for entry in x509.load_der_x509_crl(fixture.crl))
    bare_crl_load_s = time.perf_counter() - started
    root_der = fixture.root.certificate.public_bytes(serialization.Encoding.DER)
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(root_der)], crls=[asn1_crl.CertificateList.load(fixture.crl)],
        revocation_mode="hard-fail", moment=AT, allow_fetching=False,
    )

    contenders = {
        "ours": ours(index, fixture.trust),
        "bare": bare(revoked, fixture.root.certificate),
        "pyhanko": pyhanko(context),
    }
    for name, verify in contenders.items():
        check_contender(name, verify, fixture, len(fixture.logins) if name != "pyhanko" else 1)

    timed = rates({"ours": contenders["ours"], "bare": contenders["bare"]}, fixture.logins, args.iterations,
                  args.repeat)
    ours_per_s, bare_per_s = timed["ours"], timed["bare"]
    pyhanko_per_s = rates({"pyhanko": contenders["pyhanko"]}, fixture.logins, args.pyhanko_iterations, 1)["pyhanko"]
    result = {
        "bench": "verify",
        "ours_per_s": round(ours_per_s, 1),
        "bare_per_s": round(bare_per_s, 1),
        "pyhanko_per_s": round(pyhanko_per_s, 3),
        "ratio_vs_bare": round(ours_per_s / bare_per_s, 3),
        "ratio_vs_pyhanko": round(ours_per_s / pyhanko_per_s, 1),
        "ours_breakdown_us": breakdown(index, fixture),
        "pool": args.pool,
        "keys": args.keys,
        "crl_entries": len(index),
        "iterations": args.iterations,
        "repeat": args.repeat,
        "pyhanko_iterations": args.pyhanko_iterations,
        "crl_load_s": round(crl_load_s, 3),
        "bare_crl_load_s": round(bare_crl_load_s, 3),
        **figures,
        "setup_s": round(setup_s, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
    }
    print(json.dumps(result), file=sys.stdout)
    return 0


def breakdown(index: CrlIndex, fixture: Fixture) -> dict[str, float]:
    """Microseconds per login spent in each of our three steps (one pass over the pool each)."""
    logins = fixture.logins
    paths = [validate_path(login.certificate, profile=JPKI_AUTH, trust=fixture.trust, at=AT) for login in logins]
    steps: dict[str, Callable[[int], object]] = {
        "validate_path": lambda i: validate_path(logins[i].certificate, profile=JPKI_AUTH, trust=fixture.trust, at=AT),
        "check_crl": lambda i: check_crl(index, paths[i].raw, at=AT, grace=NO_GRACE),
        "verify_card_signature": lambda i: paths[i].verify_card_signature(logins[i].signature, logins[i].message),
    }
    out = {}
    for name, step in steps.items():
        start = CLOCK()
        for i in range(len(logins)):
            step(i)
        out[name] = round((CLOCK() - start) / len(logins) * 1e6, 1)
    return out
