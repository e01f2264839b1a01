"""The signing consent page (``GET /interaction/{uid}/sign``), shown BEFORE the card step: the business's name,
each document's label and digest in grouped hex, and that the signing password will be asked for; the person
approves (the card step follows, with exactly these documents) or refuses (``access_denied`` to the client).

:func:`signing_step` says whether an interaction must go through the page first: a ``jpki_sign`` request whose
documents were not yet approved (the request is created and bound to the interaction on first sight, or was bound
by the Digital Agency-shaped front door)::

    step = await signing_step(services, interaction, now)   # "/interaction/{uid}/sign" or None
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final

from litestar import Response
from litestar.datastructures import Cookie

from idp.oauth.interaction import Interaction, interaction_path
from idp.runtime import Services
from idp.sign.details import requested_documents
from idp.sign.requests import Document, SigningRequest, SigningRequests
from idp.web.pages import form_actions, page
from keys.cms.display import grouped_hex

SIGN_STEP: Final = "sign"


async def signing_request(services: Services, interaction: Interaction, now: dt.datetime) -> SigningRequest | None:
    """The interaction's signing request: the one bound to it, or a new one from its ``jpki_sign`` details (created
    and bound once); None when the interaction asks for no signature."""
    requests = SigningRequests(services.objects)
    bound = await requests.for_interaction(interaction.uid, now)
    if bound is not None:
        return bound
    documents = requested_documents(interaction.request, services.settings.signing)
    if not documents:
        return None
    expires_at = min(interaction.expires_at, now + dt.timedelta(seconds=services.settings.signing.request_ttl))
    created = await requests.create(interaction.client_id, documents, expires_at=expires_at)
    return await requests.bind(created.id, client_id=interaction.client_id, interaction=interaction.uid, now=now)


async def signing_step(services: Services, interaction: Interaction, now: dt.datetime) -> str | None:
    """The consent page's path while the interaction's documents await the person's decision; else None."""
    request = await signing_request(services, interaction, now)
    return interaction_path(interaction.uid, SIGN_STEP) if request is not None and request.state == "bound" else None


def sign_consent_page(*, uid: str, client: Mapping[str, str | None], documents: Sequence[Document], lang: str,
                      redirect_uri: str,
                      cookies: Sequence[Cookie] = ()) -> Response[str]:
    """The page (``idp/templates/sign_consent.html``, words ``sign.*`` in ``idp/messages.toml``); ``client`` says who
    is asking (:func:`idp.web.pages.client_view`)."""
    shown = [{"label": d.label, "algorithm": d.hash_algorithm.upper().replace("SHA", "SHA-"),
              "digest": grouped_hex(d.digest)} for d in documents]
    return page("sign_consent.html", lang, form_action=form_actions(redirect_uri), cookies=cookies, uid=uid,
                client=client, documents=shown)


__all__ = ["SIGN_STEP", "sign_consent_page", "signing_request", "signing_step"]
