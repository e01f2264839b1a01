"""The client's name, logo, policy, terms and purposes on the consent page, in the page's language (OIDC Dynamic
Client Registration §2.1: the tagged value for the language, else the untagged one), escaped like every value."""

from __future__ import annotations

import dataclasses

import pytest

from idp.client_presentation import PresentationError, presentation_from_metadata
from idp.clients import AuthMethod, register_client
from idp.web.pages import consent_page

METADATA = {"client_name": "Example Shop", "client_name#ja": "サンプル商店", "logo_uri": "https://shop.example/l.png",
            "policy_uri": "https://shop.example/privacy", "policy_uri#ja": "https://shop.example/ja/privacy",
            "tos_uri": "https://shop.example/terms",
            "purpose_of_use": {"name birthdate": "会員登録の本人確認のため",
                               "name birthdate#en": "To confirm who joins", "openid": "<b>ログイン</b>のため"}}


def _page(lang: str) -> str:
    client, _ = register_client("shop", auth_method=AuthMethod.NONE, redirect_uris=["https://shop.example/cb"],
                                presentation=presentation_from_metadata(METADATA, test_mode=False))
    client = dataclasses.replace(client, logo_sha256="ab" * 32)
    response = consent_page(uid="u1", client=client, client_id="shop", scopes=["openid"],
                            claims=[("name", "山田 太郎", True), ("gender", "1", False)], lang=lang,
                            redirect_uri="https://shop.example/cb")
    assert isinstance(response.content, str)
    return response.content


def test_japanese_consent_page_shows_who_asks_and_why() -> None:
    page = _page("ja")
    assert '<p class="client-name">サンプル商店</p>' in page
    assert "サービス「サンプル商店」" in page
    assert "登録ID: shop" in page
    assert '<img src="/clients/shop/logo?v=abababababababab" alt=""' in page
    assert 'href="https://shop.example/ja/privacy"' in page
    assert 'href="https://shop.example/terms"' in page  # untagged: every language
    assert "利用目的: 会員登録の本人確認のため" in page
    assert "利用目的: &lt;b&gt;ログイン&lt;/b&gt;のため" in page
    assert page.count("利用目的") == 2  # gender: no purpose given, none shown


def test_english_consent_page_picks_the_english_texts() -> None:
    page = _page("en")
    assert '<p class="client-name">Example Shop</p>' in page
    assert 'href="https://shop.example/privacy"' in page
    assert "Purpose: To confirm who joins" in page
    assert "Purpose: &lt;b&gt;ログイン&lt;/b&gt;のため" in page  # only the untagged text exists


def test_a_client_without_presentation_is_named_by_its_id() -> None:
    response = consent_page(uid="u1", client=None, client_id="rp-1", scopes=[], claims=[], lang="en",
                            redirect_uri="https://rp.example/cb")
    assert isinstance(response.content, str)
    assert '<p class="client-name">rp-1</p>' in response.content
    assert "<img" not in response.content
    assert "Registered as" not in response.content


def test_metadata_round_trips() -> None:
    shown = presentation_from_metadata(METADATA, test_mode=False)
    again = presentation_from_metadata(shown.metadata(), test_mode=False)
    assert again == shown
    assert again.purpose(["birthdate"], "en") == "To confirm who joins"
    assert again.purpose(["address"], "en") is None


def test_http_urls_only_in_test_mode() -> None:
    with pytest.raises(PresentationError, match="policy_uri"):
        presentation_from_metadata({"policy_uri": "http://shop.example/p"}, test_mode=False)
    assert presentation_from_metadata({"policy_uri": "http://shop.example/p"}, test_mode=True).policy("ja")
