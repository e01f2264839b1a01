"""The PIN pad page as the agent renders it (no browser: tests/idp/cardlogin/test_kiosk_pinpad.py drives it in
Chromium): its language, and nothing inline that the page's CSP (``script-src 'self'; style-src PROVIDER 'self'``)
would block."""

from __future__ import annotations

import re

import pytest

from cardreader.agent.pinpad import LANGUAGES, language, page


@pytest.mark.parametrize(("query", "accept", "expected"), [
    ("lang=en", "ja", "en"),  # the pad's own switch first
    ("lang=fr", "en", "en"),
    ("", "fr, en-US;q=0.8, ja;q=0.5", "en"),
    ("", "en;q=0.2, ja-JP", "ja"),
    ("", "en;q=0", "ja"),
    ("", "fr", "ja"),
    ("", None, "ja"),
])
def test_the_language_is_the_switch_then_the_browser_then_japanese(query: str, accept: str | None,
                                                                    expected: str) -> None:
    assert language(query, accept) == expected


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kiosk", [False, True])
def test_the_page_has_nothing_inline(lang: str, kiosk: bool) -> None:
    html = page("https://id.example.jp", lang, kiosk=kiosk)
    assert f'<html lang="{lang}">' in html
    assert re.search(r"<style|\sstyle=|<script>|\son[a-z]+=", html) is None
    assert ('class="pinpad kiosk"' in html) is kiosk
    keys = re.findall(r'<button type="button" (?:data-key|data-action)="[^"]+"[^>]*aria-label="[^"]+"', html)
    assert len(keys) == 10 + 2 + 26  # digits, delete and clear, letters (signing password): each labelled
