"""The services' pages as Jinja2 templates: autoescaped HTML, undefined names refused, messages from a catalog.

Templates live in a package directory (package data, so an installed wheel finds them). Every ``.html`` template
is autoescaped (``select_autoescape``): a value reaches a page as text unless the code marks it
:class:`markupsafe.Markup` (only the service's own generated SVG does). Other templates (``.css``, ``.js``) are
not escaped: they are included as they are, and their digests go into the pages' CSP. A name the template uses
but the caller did not pass raises (``StrictUndefined``) instead of rendering empty.

Each template sees ``lang`` (passed by the caller) and ``t(key, **params)``, the catalog's message in that
language (:mod:`servicekit.messages`; ``t(key, lang="en")`` for a page that shows both languages).

Usage::

    templates = Templates("idp", catalog=Catalog.load("idp", "messages.toml"))
    html = templates.render("consent.html", lang="en", client_id="<script>", ...)   # "&lt;script&gt;"
    js = templates.render("card_login.js")                                         # included as is
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import jinja2

from servicekit.messages import Catalog


def environment(package: str, directory: str = "templates") -> jinja2.Environment:
    """A Jinja2 environment over ``package``'s ``directory``: autoescape for HTML, ``StrictUndefined``."""
    return jinja2.Environment(loader=jinja2.PackageLoader(package, directory),
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html",),
                                                                  default_for_string=True, default=False),
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True, auto_reload=False)


def csp_hash(text: str) -> str:
    """The CSP hash source of an inline script or style (CSP Level 3 §2.3.1): ``'sha256-…'``."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


class Templates:
    """The templates of one package, rendering with that package's message catalog."""

    def __init__(self, package: str, *, catalog: Catalog, directory: str = "templates") -> None:
        self.catalog = catalog
        self.environment = environment(package, directory)

        @jinja2.pass_context
        def message(context: jinja2.runtime.Context, key: str, lang: str | None = None, **params: object) -> str:
            return catalog.message(key, str(context["lang"]) if lang is None else lang, **params)

        self.environment.globals["t"] = message

    def render(self, name: str, **context: Any) -> str:
        """Template ``name`` rendered with ``context`` (every name it uses must be given)."""
        return self.environment.get_template(name).render(**context)


__all__ = ["Templates", "csp_hash", "environment"]
