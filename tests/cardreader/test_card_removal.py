"""Card removal as the reader reports it (:func:`cardreader.login.wait_for_removal` over
:func:`cardreader.pcsc.wait_for_empty`), with the real pcscd and the virtual card: only an empty reader is a
removal; pcscd going away, or the card being reset by another session, is not; a card put back within the settle
time is not either."""

from __future__ import annotations

import threading
import time

import pytest

from cardreader.login import wait_for_removal
from cardreader.pcsc import open_card
from cardreader.virtual.lab import READER, PcscLab
from cardreader.virtual.profile import CardProfile

from .conftest import Slot

pytestmark = pytest.mark.pcsc


def test_pcscd_gone_is_not_a_removal(reader: Slot, lab: PcscLab) -> None:
    assert not wait_for_removal(READER, test_mode=True, timeout=0.5)
    lab.stop_pcscd()
    try:
        assert not wait_for_removal(READER, test_mode=True, timeout=1.0)  # nothing is known about the card
    finally:
        lab.start_pcscd()
    lab.wait_for_card()
    assert not wait_for_removal(READER, test_mode=True, timeout=0.5)
    reader.pull()
    assert wait_for_removal(READER, test_mode=True, timeout=5)


def test_a_card_reset_by_other_sessions_is_not_a_removal(reader: Slot) -> None:
    stop = threading.Event()

    def reset_again_and_again() -> None:
        while not stop.is_set():
            with open_card(READER, test_mode=True, wait=2):
                pass  # closing resets the card

    thread = threading.Thread(target=reset_again_and_again, daemon=True)
    thread.start()
    try:
        assert not wait_for_removal(READER, test_mode=True, timeout=2.0, interval=0.05)
    finally:
        stop.set()
        thread.join(10)


def test_a_card_back_within_the_settle_time_is_not_a_removal(reader: Slot, lab: PcscLab,
                                                             card_profile: CardProfile) -> None:
    seen: list[bool] = []
    watcher = threading.Thread(target=lambda: seen.append(wait_for_removal(READER, test_mode=True, timeout=8,
                                                                           settle=6)))
    watcher.start()
    started = time.monotonic()
    reader.pull()
    reader.use(card_profile)  # back after the lab's minimum absence (pcscd's poll period)
    assert time.monotonic() - started < 6
    watcher.join(15)
    assert seen == [False]
    seen.clear()
    reader.pull()
    assert wait_for_removal(READER, test_mode=True, timeout=5, settle=0.5)
