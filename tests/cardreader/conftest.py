"""Fixtures of the card tests.

Fast ones (no pcscd): a test PKI and card profiles written once per session, and :class:`VirtualCard`
objects used directly as a transport. Tests marked ``pcsc`` get a private PC/SC lab (pcscd on its own
socket and vpcd port, started in the foreground and stopped by PID; see
:class:`cardreader.virtual.lab.PcscLab`) and a :class:`Slot` that (re)starts the virtual card process only
when a test needs a different card or fault.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardreader.pcsc import TEST_MODE_ENV
from cardreader.virtual.card import CardContent, Fault, VirtualCard
from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile, create_profile
from tests.support.pcsc import pcsc_lab

#: Distinctive secrets, so that the log tests can search for them.
AUTH_PIN = "7391"
SIGN_PASSWORD = "KQ7X2M9P"
WRONG_PIN = "2580"
WRONG_PASSWORD = "ZZ9TOP42"
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="session")
def card_profile(tmp_path_factory: pytest.TempPathFactory) -> CardProfile:
    """An adult's card: both key pairs (generation 3 test roots)."""
    directory = tmp_path_factory.mktemp("card")
    return create_profile(directory / "card.json", pki_dir=directory / "pki", now=NOW, auth_pin=AUTH_PIN,
                          sign_password=SIGN_PASSWORD)


@pytest.fixture(scope="session")
def minor_profile(card_profile: CardProfile, tmp_path_factory: pytest.TempPathFactory) -> CardProfile:
    """A card without a signing pair (a holder under 15), from the same test PKI."""
    directory = tmp_path_factory.mktemp("minor")
    return create_profile(directory / "minor.json", pki_dir=card_profile.path.parent / "pki", now=NOW,
                          auth_pin=AUTH_PIN, with_sign=False)


@pytest.fixture
def fresh_profile(card_profile: CardProfile, tmp_path: Path) -> CardProfile:
    """A copy of :func:`card_profile` with its own (full) retry counters, for tests that spend tries."""
    return card_profile.copy_to(tmp_path / "card.json")


@pytest.fixture(scope="session")
def card_content(card_profile: CardProfile) -> CardContent:
    """The adult card's files, PINs and keys (loaded once)."""
    return card_profile.content()


@pytest.fixture
def card(card_content: CardContent) -> VirtualCard:
    """A virtual card with full counters that persists nothing."""
    return VirtualCard(card_content)


class Slot:
    """Slot 0 of the lab's vpcd reader; :meth:`use` restarts the card process only when needed."""

    def __init__(self, lab: PcscLab) -> None:
        self.lab = lab
        self._current: tuple[Path, Fault | None, Path | None] | None = None

    def use(self, profile: CardProfile, fault: Fault | None = None, apdu_log: Path | None = None) -> None:
        """Make sure the card of ``profile`` (with ``fault``) is in the reader."""
        wanted = (profile.path, fault, apdu_log)
        if wanted == self._current and self.lab.card_pid is not None:
            return
        self._current = None
        self.lab.insert(profile.path, fault=fault, apdu_log=apdu_log)
        self._current = wanted

    def restart(self) -> None:
        """Stop and start the same card process (a power cycle that also restarts the emulator)."""
        assert self._current is not None
        path, fault, apdu_log = self._current
        self.lab.insert(path, fault=fault, apdu_log=apdu_log)

    def pull(self) -> None:
        """Take the card out (and forget it)."""
        self._current = None
        self.lab.remove()


@pytest.fixture(autouse=True)
def _test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Virtual readers are allowed in these tests (and only here: the variable is restored afterwards)."""
    monkeypatch.setenv(TEST_MODE_ENV, "1")


@pytest.fixture(autouse=True)
def _no_pcsc_call_outlives_its_test() -> Iterator[None]:
    """Every PC/SC session a test opened, and every call it abandoned, ends (its handle released) within
    10 s of the test: a call still blocked in pcscd could otherwise hold the reader in the next test."""
    yield
    deadline = time.monotonic() + 10
    while (workers := [t for t in threading.enumerate() if t.name == "pcsc-worker"]) and time.monotonic() < deadline:
        workers[0].join(deadline - time.monotonic())
    assert not workers, f"{len(workers)} PC/SC session(s) still running after the test"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PcscLab]:
    """A private pcscd with the vpcd driver; the process environment points at it from here on."""
    with pcsc_lab(tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="session")
def slot(lab: PcscLab) -> Slot:
    """The lab's reader slot 0."""
    return Slot(lab)


@pytest.fixture
def reader(slot: Slot, card_profile: CardProfile) -> Slot:
    """Slot 0 holding the adult's card (no fault)."""
    slot.use(card_profile)
    return slot
