"""Client logos, fetched once and served by the provider from its own origin.

A page that loaded ``logo_uri`` from the client's host would tell that host who looks at the login page and when
(a tracking pixel), and would need the client's host in the pages' CSP. So the logo is fetched once, when the
client is registered or updated, through the provider's outbound client (:mod:`servicekit.outbound`: address
policy, no redirects, deadline, at most :data:`MAX_LOGO_OCTETS`), decoded by Pillow as a PNG, JPEG or WebP image
of at most :data:`MAX_SIDE` pixels a side, and re-encoded as a PNG of at most :data:`SHOWN_SIDE` pixels a side:
what is stored and served is pixels we encoded, without the original's metadata or anything else it carried.
The pages show ``/clients/<client_id>/logo?v=<digest>`` (``img-src 'self'``).

Usage::

    png = await fetch_logo("https://rp.example/logo.png", services.outbound, deadline=5.0)
    # LogoError: not fetched, not an image of an accepted format, or too large
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import warnings
from typing import Final
from urllib.parse import quote

from PIL import Image, UnidentifiedImageError

from idp.clients import Client
from servicekit.outbound import OutboundClient, OutboundError

#: Largest logo fetched, largest side of the image accepted, and largest side of the stored PNG.
MAX_LOGO_OCTETS: Final = 256 * 1024
MAX_SIDE: Final = 2048
SHOWN_SIDE: Final = 256
FORMATS: Final = ("PNG", "JPEG", "WEBP")
#: The one answer to a logo that could not be used, whatever the reason (registration must not scan networks).
LOGO_UNUSABLE: Final = (f"logo_uri could not be fetched as a PNG, JPEG or WebP image of at most "
                        f"{MAX_LOGO_OCTETS // 1024} KiB and {MAX_SIDE}x{MAX_SIDE} pixels")


class LogoError(ValueError):
    """The logo cannot be used; ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(LOGO_UNUSABLE)
        self.reason = reason


def checked_png(data: bytes) -> bytes:
    """``data`` decoded as a PNG, JPEG or WebP image within the limits, re-encoded as PNG (raises
    :class:`LogoError`)."""
    if len(data) > MAX_LOGO_OCTETS:
        raise LogoError("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.width > MAX_SIDE or image.height > MAX_SIDE or not image.width or not image.height:
                    raise LogoError("dimensions")
                image.load()
                picture = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, SyntaxError) as exc:
        raise LogoError(exc.reason if isinstance(exc, LogoError) else "not_an_image") from None
    picture.thumbnail((SHOWN_SIDE, SHOWN_SIDE))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


async def fetch_logo(uri: str, outbound: OutboundClient, *, deadline: float) -> bytes:
    """The logo at ``uri`` as the PNG the provider stores (:func:`checked_png`); raises :class:`LogoError`."""
    try:
        response = await outbound.request("GET", uri, headers={"Accept": "image/png, image/jpeg, image/webp"},
                                          deadline=deadline, max_bytes=MAX_LOGO_OCTETS)
    except OutboundError as exc:
        raise LogoError(exc.reason.value) from None
    if response.status != 200:
        raise LogoError("status")
    return checked_png(response.content)


def logo_digest(png: bytes) -> str:
    """The stored logo's SHA-256 hex (it versions the logo's URL, so browsers may cache it for long)."""
    return hashlib.sha256(png).hexdigest()


def logo_path(client_id: str, digest: str) -> str:
    """Where the provider serves the logo of ``client_id``."""
    return f"/clients/{quote(client_id, safe='')}/logo?v={digest[:16]}"




async def with_logo(client: Client, outbound: OutboundClient, *, deadline: float) -> tuple[Client, bytes | None]:
    """``client`` with the digest of its logo, and the logo to store (None without ``logo_uri``); raises
    :class:`LogoError`."""
    if client.presentation.logo_uri is None:
        return dataclasses.replace(client, logo_sha256=None), None
    png = await fetch_logo(client.presentation.logo_uri, outbound, deadline=deadline)
    return dataclasses.replace(client, logo_sha256=logo_digest(png)), png


__all__ = ["FORMATS", "LOGO_UNUSABLE", "MAX_LOGO_OCTETS", "MAX_SIDE", "SHOWN_SIDE", "LogoError", "checked_png",
           "fetch_logo", "logo_digest", "logo_path", "with_logo"]
