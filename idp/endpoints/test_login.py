"""The TEST authenticator (``login.authenticator = "test"``, test mode only): log in as any account by form.

Scripts and the conformance harness drive it with plain HTTP (notes/contracts.md): ``GET /interaction/{uid}``
shows a form; ``POST /interaction/{uid}/test-login`` with ``account_id`` (1–255 printable characters), and
optionally ``acr`` (default :data:`TEST_ACR`), ``amr`` (space-separated, default ``test``) and ``claims`` (a JSON
object of claims the login gives, released only as requested and consented) and ``facts`` (a JSON object of
the four facts as a signing certificate has them — ``name``, ``name_substitution``, ``birth_date``, ``address``,
``address_substitution``, ``sex`` (ISO 5218) — and ``not_after`` in seconds: the credential issuer's source, with
no certificate behind it, so no revocation either), completes the login
(:func:`idp.oauth.authenticator.complete_login`). Outside test mode, or with another authenticator configured,
the POST route answers 404.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect

from credentials.catalog.basic import ReleasedFacts
from credentials.oid4vci.configurations import CredentialSource
from idp.oauth.authenticator import MAX_CLAIMS_OCTETS, LoginResult, complete_login
from idp.oauth.interaction import INTERACTION_COOKIE, Interaction, browser_interaction
from idp.runtime import Services, utcnow
from idp.vci.references import TEST_ISSUER
from idp.web.pages import expired_page, form_actions, page, request_language, same_origin
from servicekit.http.bodies import BodyError, parse_form_pairs, parse_json

TEST_ACR: Final = "urn:mynacard:acr:test"
_MAX_FORM: Final = 24 * 1024
_PRINTABLE: Final = re.compile(r"[^\x00-\x1f\x7f]{1,255}")

AnyRequest = Request[Any, Any, Any]


def _page(interaction: Interaction, request: AnyRequest, *, error: str | None = None,
          status: int = 200) -> Response[str]:
    return page("test_login.html", request_language(request, interaction.request.ui_locales), status=status,
                form_action=form_actions(interaction.request.redirect_uri), uid=interaction.uid,
                login_hint=interaction.request.login_hint or "", error=error)


class TestAuthenticator:
    """Logs in as whichever account the form names (test mode only)."""

    name = "test"
    acr_values: tuple[str, ...] = (TEST_ACR,)
    test_only = True

    async def login_page(self, request: AnyRequest, interaction: Interaction, services: Services) -> Response[str]:
        """The form."""
        return _page(interaction, request)


def _result(fields: Mapping[str, str]) -> LoginResult | str:
    """The login the form describes, or what is wrong with it."""
    account_id, acr = fields.get("account_id", ""), fields.get("acr") or TEST_ACR
    amr = tuple((fields.get("amr") or "test").split())
    if not _PRINTABLE.fullmatch(account_id) or not _PRINTABLE.fullmatch(acr):
        return "account_id and acr are 1-255 printable characters"
    if not all(_PRINTABLE.fullmatch(m) for m in amr):
        return "amr values are printable"
    try:
        claims = parse_json((fields.get("claims") or "{}").encode("utf-8"), max_bytes=MAX_CLAIMS_OCTETS)
    except BodyError:
        return f"claims must be a JSON object of at most {MAX_CLAIMS_OCTETS} octets"
    source = None
    if fields.get("facts"):
        try:
            facts = parse_json(fields["facts"].encode("utf-8"), max_bytes=_MAX_FORM)
            source = {"source": CredentialSource(ReleasedFacts.from_json(facts), dt.datetime.fromtimestamp(
                int(facts["not_after"]), dt.UTC)).to_json(), "cert_ref": secrets.token_hex(32),
                "cert_issuer": TEST_ISSUER}
        except (BodyError, ValueError, KeyError, TypeError, OverflowError):
            return "facts must be a JSON object of the four facts and not_after"
    return LoginResult(account_id=account_id, acr=acr, amr=amr, claims=claims, auth_time=utcnow(),
                       credential_source=source)


@post("/interaction/{uid:str}/test-login", status_code=303, request_max_body_size=_MAX_FORM,
      summary="Test login (test mode only)", tags=["Interaction"], include_in_schema=False)
async def test_login(uid: FromPath[str], request: AnyRequest, services: NamedDependency[Services]) -> Response[Any]:
    """Complete the interaction's login as the form's account."""
    settings = services.settings
    if not (settings.test_mode and settings.login.authenticator == "test"):
        raise NotFoundException()
    now = utcnow()
    interaction = await browser_interaction(services, uid, request.cookies.get(INTERACTION_COOKIE), now)
    if interaction is None or not same_origin(request, settings):
        return expired_page(request_language(request))
    try:
        fields = dict(parse_form_pairs(await request.body(), max_bytes=_MAX_FORM, max_fields=16))
    except BodyError:
        fields = {}
    result = _result(fields)
    if isinstance(result, str):
        return _page(interaction, request, error=result, status=400)
    return Redirect(await complete_login(services, uid, result, now), status_code=303,
                    headers={"Cache-Control": "no-store"})


ROUTES: Final = (test_login,)

__all__ = ["ROUTES", "TEST_ACR", "TestAuthenticator", "test_login"]
