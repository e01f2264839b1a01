"""The services' shared stylesheet (``servicekit/static/design.css``, after the Digital Agency's design system)
and how a service serves it: from its own origin (CSP ``style-src 'self'``), at a URL that names the file's
digest, so browsers may keep it for a year and a new version is a new URL.

Usage::

    STYLESHEET.href                      # "/assets/design.css?v=3f2a…": what pages link to
    STYLESHEET.text, STYLESHEET.headers  # what the service answers at STYLESHEET_PATH
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

#: Where every service serves the stylesheet.
STYLESHEET_PATH: Final = "/assets/design.css"


@dataclass(frozen=True, slots=True)
class Stylesheet:
    """A stylesheet's text and how it is linked and answered."""

    text: str

    @property
    def digest(self) -> str:
        """The first 16 hex digits of the text's SHA-256 (the URL's version)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    @property
    def href(self) -> str:
        """The versioned URL pages link to."""
        return f"{STYLESHEET_PATH}?v={self.digest}"

    @property
    def headers(self) -> dict[str, str]:
        """The answer's headers: cacheable for a year (the URL changes with the text), not sniffed."""
        return {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff",
                "ETag": f'"{self.digest}"'}


STYLESHEET: Final = Stylesheet(resources.files("servicekit").joinpath("static/design.css").read_text(encoding="utf-8"))

__all__ = ["STYLESHEET", "STYLESHEET_PATH", "Stylesheet"]
