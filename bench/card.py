"""``python -m bench card``: a full card login read through the real PC/SC stack, against the virtual card.

One login read is what the kiosk does for a log-in (jpki-card-and-certs.md §5 steps 1-4), in one exclusive
PC/SC session: connect, SELECT the JPKI AP, read the authentication certificate (trimmed to its DER length),
read the auth PIN's tries (empty VERIFY), VERIFY the PIN, SELECT the key and sign SHA-256 of a fresh
challenge (``80 2A``), then disconnect with a card reset. The correct PIN is used every time, so the
counter stays at 3.

The stack is real: pyscard → libpcsclite → a private pcscd (own socket and vpcd port,
:class:`cardreader.virtual.lab.PcscLab`) → vpcd → TCP → the virtual card process. The time is the wall
time of the whole session (connect to disconnect), per iteration.

For comparison, ``opensc_apdu_count`` is what OpenSC needs for the same work (read the auth certificate +
sign: one ``pkcs11-tool --login --sign --id 01`` run), counted in the virtual card's APDU log from OpenSC's
first SELECT of the JPKI AP onward; ``opensc_apdu_count_total`` also counts its driver probes before that.

Targets: ``apdu_count`` <= OpenSC's and <= 15; ``median_ms`` < 10 on the virtual card.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from cardreader import pcsc, session
from cardreader.evidence import CardEvidence
from cardreader.jpki import Key, select_application
from cardreader.pin import Pin
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import create_profile
from keys.signatures import verify_card_signature

AUTH_PIN = "5820"
PKCS11_MODULE = Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")
_JPKI_SELECT = "C: " + select_application().describe()


def login_read() -> tuple[float, int, int, CardEvidence, bytes]:
    """One timed login read; returns seconds, APDUs, bytes, the evidence and the challenge."""
    challenge = secrets.token_bytes(32)
    started = time.perf_counter()
    with pcsc.open_card(test_mode=True) as card:
        evidence = session.sign(card, Key.AUTH, challenge, Pin(Key.AUTH, AUTH_PIN))
    elapsed = time.perf_counter() - started
    return elapsed, card.apdu_count, card.bytes_sent + card.bytes_received, evidence, challenge


def opensc_apdus(lab: PcscLab, profile: Path, workdir: Path) -> tuple[int, int]:
    """APDUs of one pkcs11-tool sign run, from the JPKI SELECT onward and in total."""
    log = workdir / "opensc-apdu.log"
    lab.insert(profile, apdu_log=log)
    message = workdir / "message.bin"
    message.write_bytes(secrets.token_bytes(32))
    subprocess.run(
        ["pkcs11-tool", "--module", str(PKCS11_MODULE), "--slot-index", "0", "--login", "--pin", AUTH_PIN,
         "--id", "01", "--sign", "-m", "SHA256-RSA-PKCS", "-i", str(message), "-o", str(workdir / "sig.bin")],
        env=lab.env, check=True, capture_output=True, timeout=60,
    )
    lab.remove()  # the card process flushes each line; removal makes sure OpenSC's session is over
    commands = [line.rstrip("\n") for line in log.read_text().splitlines() if line.startswith("C: ")]
    first = next(i for i, line in enumerate(commands) if line.startswith(_JPKI_SELECT))
    return len(commands) - first, len(commands)


def main(argv: list[str]) -> int:
    """Run the benchmark and print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench card", description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200, help="timed login reads")
    parser.add_argument("--warmup", type=int, default=10, help="untimed login reads first")
    args = parser.parse_args(argv)
    if shutil.which("pcscd") is None or shutil.which("pkcs11-tool") is None:
        print("bench card: needs pcscd, vsmartcard-vpcd and opensc", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-card-") as tmp:
        workdir = Path(tmp)
        profile = create_profile(workdir / "card.json", pki_dir=workdir / "pki", now=dt.datetime.now(dt.UTC),
                                 auth_pin=AUTH_PIN)
        with PcscLab(workdir / "lab") as lab:
            lab.insert(profile.path)
            for _ in range(args.warmup):
                _, _, _, evidence, challenge = login_read()
            public_key = x509.load_der_x509_certificate(evidence.certificate).public_key()
            assert isinstance(public_key, rsa.RSAPublicKey)
            verify_card_signature(public_key, evidence.signature, challenge)  # the work is real
            runs = [login_read() for _ in range(args.iterations)]
            opensc_from_select, opensc_total = opensc_apdus(lab, profile.path, workdir)
    times_ms = sorted(r[0] * 1000 for r in runs)
    apdus, transferred = runs[-1][1], runs[-1][2]
    median_ms = statistics.median(times_ms)
    p95_ms = times_ms[min(len(times_ms) - 1, round(0.95 * (len(times_ms) - 1)))]
    result = {
        "bench": "card",
        "iterations": args.iterations,
        "apdu_count": apdus,
        "bytes_transferred": transferred,
        "median_ms": round(median_ms, 3),
        "p95_ms": round(p95_ms, 3),
        "opensc_apdu_count": opensc_from_select,
        "opensc_apdu_count_total": opensc_total,
        "certificate_bytes": len(evidence.certificate),
        "targets_met": {
            "apdus_le_opensc": apdus <= opensc_from_select,
            "apdus_le_15": apdus <= 15,
            "median_lt_10ms": median_ms < 10,
        },
        "python": platform.python_version(),
    }
    print(json.dumps(result))
    return 0


__all__ = ["main"]
