"""The pages' templates and message catalogs: autoescape, undefined names refused, every message in both languages."""

from __future__ import annotations

import re
import string
import tomllib
from importlib import resources
from pathlib import Path

import jinja2
import pytest

from idp.login.page import device_page, login_page
from idp.web.pages import MESSAGES, TEMPLATES, client_view, consent_page, form_post_page
from keys.x509.profile import Purpose
from servicekit.messages import Catalog, CatalogError, language
from servicekit.templates import Templates, csp_hash

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
_KEY_USE = re.compile(r"""\bt\(\s*"([a-z0-9_.]+)"\s*[,)]""")
_MESSAGE_CALL = re.compile(r"\b(?:message|message_page|both)\(([^()]*)\)")


def test_consent_page_escapes_the_client_and_the_claim_values() -> None:
    response = consent_page(uid="u1", client=None, client_id=SCRIPT, scopes=["openid"],
                            claims=[("name", SCRIPT, True)], lang="en", redirect_uri="https://rp.example/cb")
    assert isinstance(response.content, str)
    assert SCRIPT not in response.content
    assert response.content.count(ESCAPED) == 3  # the client's name, the sentence naming it, the claim's value
    assert '<fieldset>\n<legend>' in response.content
    assert '<html lang="en">' in response.content


def test_login_page_escapes_the_client_name() -> None:
    page = login_page(uid="u1", issuer="https://op.example", client=client_view(None, SCRIPT, "ja"),
                      key=Purpose.AUTH, token="t", code="ABCDEFGH", shown_code="ABCD-EFGH",
                      agent_url="http://127.0.0.1:47210", lang="ja")
    assert SCRIPT not in page
    assert f'<p class="client-name">{ESCAPED}</p>' in page
    assert "<svg" in page  # the QR code, the one value marked safe
    assert 'role="status" aria-live="polite"' in page
    assert 'data-error-prefix="エラー: "' in page


def test_device_page_speaks_english() -> None:
    page = device_page(issuer="https://op.example", agent_url="http://127.0.0.1:47210", lang="en")
    assert '<html lang="en">' in page
    assert 'data-error-prefix="Error: "' in page
    assert 'data-step-waiting-for-pin="Enter your PIN in the card agent (never on this page)"' in page


def test_form_post_escapes_attributes_and_allows_its_script_by_hash() -> None:
    response = form_post_page('https://rp.example/cb"><x', {"state": '"><script>'})
    assert isinstance(response.content, str)
    assert '"><script>' not in response.content
    assert csp_hash(TEMPLATES.render("form_post.js")) in response.headers["Content-Security-Policy"]


def test_undefined_names_raise() -> None:
    with pytest.raises(jinja2.UndefinedError):
        TEMPLATES.render("logout_confirm.html", lang="ja")


def test_non_html_templates_are_not_escaped_and_strings_are() -> None:
    templates = Templates("idp", catalog=Catalog({}))
    assert "&" not in templates.render("form_post.js")
    assert templates.environment.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"


def _catalog_files() -> list[tuple[str, Path]]:
    return [("idp", Path(str(resources.files("idp").joinpath("messages.toml")))),
            ("cardreader.agent", Path(str(resources.files("cardreader.agent").joinpath("messages.toml"))))]


@pytest.mark.parametrize(("package", "path"), _catalog_files())
def test_every_message_is_in_japanese_and_english_with_the_same_placeholders(package: str, path: Path) -> None:
    catalog = Catalog.parse(path.read_text(encoding="utf-8"))
    assert catalog.keys()
    formatter = string.Formatter()
    for key in sorted(catalog.keys()):
        ja, en = catalog.both(key)
        assert ja.strip(), key
        assert en.strip(), key
        assert ja != en, key
        names = [{field for _, field, _, _ in formatter.parse(text) if field} for text in (ja, en)]
        assert names[0] == names[1], key


def test_agent_catalog_is_a_table_of_messages() -> None:
    raw = tomllib.loads(resources.files("cardreader.agent").joinpath("messages.toml").read_text(encoding="utf-8"))
    assert all(set(message) == {"ja", "en"} for message in raw["pinpad"].values())


def test_every_key_the_templates_and_code_use_exists() -> None:
    root = Path(str(resources.files("idp")))
    used = set()
    for path in [*root.joinpath("templates").glob("*.html")]:
        used |= set(_KEY_USE.findall(path.read_text(encoding="utf-8")))
    used -= {key for key in used if key.endswith(".")}
    assert used
    assert used <= MESSAGES.keys(), used - MESSAGES.keys()
    for path in root.rglob("*.py"):
        for call in _MESSAGE_CALL.findall(path.read_text(encoding="utf-8")):
            for key in re.findall(r'"([a-z0-9_]+\.[a-z0-9_.]+)"', call):
                assert key in MESSAGES, (path, key)


def test_a_message_without_english_is_refused() -> None:
    with pytest.raises(CatalogError):
        Catalog.parse('[page]\ntitle = { ja = "題" }\n')
    with pytest.raises(CatalogError):
        Catalog.parse('[page]\ntitle = { ja = "題", en = 1 }\n')


def test_message_fills_placeholders_and_falls_back_to_japanese() -> None:
    assert MESSAGES.message("portal.validity", "en", minutes=5).startswith("Valid for about 5 minutes")
    assert MESSAGES.message("common.error", "fr") == "エラー"


@pytest.mark.parametrize(("ui_locales", "accept", "expected"), [
    (["en"], "ja", "en"),
    (["fr", "ja-JP"], "en", "ja"),
    ([], "fr, en-GB;q=0.8, ja;q=0.5", "en"),
    ([], "en;q=0, ja;q=0.1", "ja"),
    ([], None, "ja"),
    (["de"], "es", "ja"),
])
def test_language_rule(ui_locales: list[str], accept: str | None, expected: str) -> None:
    assert language(ui_locales, accept) == expected
