"""The OpenAPI 3.1 document (OpenAPI 3.1.0 §4.8): what litestar infers, plus what each endpoint declares about itself.

Litestar derives paths, methods, path parameters, summaries and tags from the route handlers, but our endpoints read
their bodies themselves (:mod:`servicekit.http.bodies`) and answer several media types per status, so it cannot see
their query, header and body parameters, statuses, content types or error bodies. Each endpoint module declares
those next to its routes as ``OPENAPI``: path items keyed by path template, built with the helpers below, which
:func:`describe` merges into litestar's document and :class:`DescribedJsonRenderPlugin` serves::

    from servicekit.http import openapi as doc

    OPENAPI = {"/revoke": {"post": doc.operation(
        parameters=[doc.AUTHORIZATION_BASIC],
        body=doc.form_body(doc.strings("token", "token_type_hint"), ("token",)),
        responses=doc.responses(doc.answer((200,), "revoked, or unknown (RFC 7009 §2.2)", {"text/plain": None}),
                                doc.oauth_error(400, 401), doc.too_large()))}}
    OpenAPIConfig(..., render_plugins=[doc.DescribedJsonRenderPlugin(OPENAPI)])

A form body's other parameters are strings and none comes twice unless declared an array (RFC 6749 §3.1); a
status may carry several media types (:func:`responses` joins them), e.g. an HTML page for a browser and the
OAuth error object for a program.

A declared operation's parameters are added to litestar's (by name and location), its ``requestBody`` and
``responses`` replace litestar's. An operation in the document nobody described, or a description of an operation
the application does not have, is an :class:`UndescribedOperation`: the document never guesses.

Error bodies: the OAuth 2.0 error object (RFC 6749 §5.2, also RFC 6750 §3, RFC 7591 §3.2.2 and OpenID4VCI 1.0
§8.3.1.2), RFC 9457 problem details, and HTML pages for people.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from litestar.openapi.plugins import JsonRenderPlugin

from servicekit.http.bodies import FORM, JSON
from servicekit.http.errors import PROBLEM_JSON

if TYPE_CHECKING:
    from litestar import Request

Schema = dict[str, Any]
Operation = dict[str, Any]
Responses = dict[str, Any]
#: Path template -> lower-case method -> operation.
PathItems = Mapping[str, Mapping[str, Operation]]

HTML: Final = "text/html"
STRING: Final[Schema] = {"type": "string"}
INTEGER: Final[Schema] = {"type": "integer"}
OBJECT: Final[Schema] = {"type": "object"}
METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

#: Shared schemas, under ``components.schemas``.
SCHEMAS: Final[dict[str, Schema]] = {
    "OAuthError": {
        "description": "An OAuth 2.0 error response (RFC 6749 §5.2; RFC 6750 §3; RFC 7591 §3.2.2; OpenID4VCI 1.0 "
                       "§8.3.1.2).",
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"},
                       "error_uri": {"type": "string"}},
    },
    "Problem": {
        "description": "RFC 9457 problem details; extension members (§3.2) may follow.",
        "type": "object", "required": ["type", "title", "status"],
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer", "minimum": 100, "maximum": 599},
                       "detail": {"type": "string"}, "instance": {"type": "string"}},
    },
}


class UndescribedOperation(Exception):
    """An operation without a description, or a description without its operation."""


def ref(name: str) -> Schema:
    """A reference to the shared schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: Mapping[str, Schema], required: Sequence[str] = (), **more: Any) -> Schema:
    """An object schema; members other than ``properties`` are allowed unless ``more`` says otherwise."""
    schema: Schema = {"type": "object", "properties": dict(properties), **more}
    if required:
        schema["required"] = list(required)
    return schema


def strings(*names: str) -> dict[str, Schema]:
    """``{name: string}`` for each name."""
    return {name: dict(STRING) for name in names}


def parameter(location: str, name: str, description: str, *, required: bool = False,
              schema: Schema | None = None) -> dict[str, Any]:
    """A ``query``, ``header``, ``path`` or ``cookie`` parameter (OpenAPI 3.1.0 §4.8.12)."""
    return {"name": name, "in": location, "description": description, "required": required or location == "path",
            "schema": dict(schema or STRING)}


def query(*names: str, description: str = "", required: Sequence[str] = ()) -> list[dict[str, Any]]:
    """String query parameters."""
    return [parameter("query", name, description or name, required=name in required) for name in names]


AUTHORIZATION_BEARER: Final = parameter(
    "header", "Authorization", "Bearer <access token> (RFC 6750 §2.1) or DPoP <access token> (RFC 9449 §7.1)")
AUTHORIZATION_BASIC: Final = parameter(
    "header", "Authorization", "client_secret_basic: Basic <client_id:client_secret> (RFC 6749 §2.3.1)")
DPOP: Final = parameter("header", "DPoP", "a DPoP proof JWT (RFC 9449 §4)")
ACCEPT_LANGUAGE: Final = parameter("header", "Accept-Language", "the page's language when ui_locales names none")
#: The response header of a server nonce (RFC 9449 §8).
DPOP_NONCE: Final = {"DPoP-Nonce": "the server nonce for the next DPoP proof (RFC 9449 §8)"}


def operation(*, responses: Responses, parameters: Iterable[dict[str, Any]] = (), body: dict[str, Any] | None = None,
              description: str | None = None) -> Operation:
    """An operation's declared parts."""
    declared: Operation = {"responses": responses}
    if parameters := list(parameters):
        declared["parameters"] = parameters
    if body is not None:
        declared["requestBody"] = body
    if description is not None:
        declared["description"] = description
    return declared


def form_body(properties: Mapping[str, Schema], required: Sequence[str] = (), *, optional: bool = False
              ) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body: other parameters are strings too, and each parameter comes
    at most once unless ``properties`` makes it an array (RFC 6749 §3.1); a required one is not empty (§3.1: an
    empty parameter counts as absent)."""
    schema = obj({name: {**value, "minLength": 1} if name in required else value
                  for name, value in properties.items()}, required, additionalProperties=dict(STRING))
    return {"required": not optional, "content": {FORM: {"schema": schema}}}


def json_body(schema: Schema, *, optional: bool = False) -> dict[str, Any]:
    """An ``application/json`` body."""
    return {"required": not optional, "content": {JSON: {"schema": schema}}}


def _headers(headers: Mapping[str, str], required: Sequence[str]) -> dict[str, Any]:
    return {name: {"description": text, "required": name in required, "schema": dict(STRING)}
            for name, text in headers.items()}


def answer(statuses: Iterable[int], description: str, media_types: Mapping[str, Schema | None] | None = None, *,
           headers: Mapping[str, str] | None = None, required_headers: Sequence[str] = ()) -> Responses:
    """Responses of each status in ``statuses``: ``media_types`` maps a media type to its schema (``None``: any)."""
    response: dict[str, Any] = {"description": description}
    if media_types:
        response["content"] = {media: {} if schema is None else {"schema": schema}
                               for media, schema in media_types.items()}
    if headers:
        response["headers"] = _headers(headers, required_headers)
    return {str(status): copy.deepcopy(response) for status in statuses}


def json_answer(status: int, description: str, schema: Schema | None = None, *, media_type: str = JSON,
                headers: Mapping[str, str] | None = None) -> Responses:
    """One JSON answer."""
    return answer((status,), description, {media_type: schema or dict(OBJECT)}, headers=headers)


def oauth_error(*statuses: int, description: str = "an OAuth error (RFC 6749 §5.2)",
                headers: Mapping[str, str] | None = None) -> Responses:
    """The RFC 6749 §5.2 error object, as JSON."""
    return answer(statuses, description, {JSON: ref("OAuthError")}, headers=headers)


def problem(*statuses: int, description: str = "RFC 9457 problem details",
            headers: Mapping[str, str] | None = None) -> Responses:
    """RFC 9457 problem details."""
    return answer(statuses, description, {PROBLEM_JSON: ref("Problem")}, headers=headers)


def html(*statuses: int, description: str) -> Responses:
    """An HTML page."""
    return answer(statuses, description, {HTML: dict(STRING)})


def see_other(description: str, status: int = 303) -> Responses:
    """A redirect (RFC 9110 §15.4.4) with its ``Location``."""
    return answer((status,), description, headers={"Location": "where to go"}, required_headers=("Location",))


def too_large() -> Responses:
    """413 for a body over the endpoint's limit (litestar refuses it before the endpoint reads it)."""
    return problem(413, description="the request body is larger than the endpoint accepts")


def not_found(description: str = "no such resource") -> Responses:
    """404 problem details."""
    return problem(404, description=description)


def responses(*parts: Responses) -> Responses:
    """The union of ``parts``: for a status given twice, the media types and headers of both, descriptions joined."""
    merged: Responses = {}
    for part in parts:
        for status, response in part.items():
            if status not in merged:
                merged[status] = copy.deepcopy(response)
                continue
            into = merged[status]
            if response["description"] not in into["description"]:
                into["description"] += "; " + response["description"]
            for member in ("content", "headers"):
                if member in response:
                    into.setdefault(member, {}).update(copy.deepcopy(response[member]))
    return merged


def _merge_operation(generated: Operation, declared: Operation) -> Operation:
    merged = {**generated, **{k: v for k, v in declared.items() if k != "parameters"}}
    if "requestBody" not in declared:
        merged.pop("requestBody", None)
    parameters = {(p["name"], p["in"]): p for p in generated.get("parameters", [])}
    for declared_parameter in declared.get("parameters", []):
        key = (declared_parameter["name"], declared_parameter["in"])
        parameters[key] = {**parameters.get(key, {}), **declared_parameter}
    if parameters:
        merged["parameters"] = list(parameters.values())
    return merged


def describe(document: Mapping[str, Any], declared: PathItems) -> dict[str, Any]:
    """``document`` (litestar's) with the ``declared`` operations merged in and :data:`SCHEMAS` added."""
    described = copy.deepcopy(dict(document))
    paths: dict[str, dict[str, Any]] = described.setdefault("paths", {})
    for path, item in declared.items():
        for method in item:
            if method not in paths.get(path, {}):
                raise UndescribedOperation(f"{method.upper()} {path} is described but not served")
    for path, item in paths.items():
        for method in [m for m in item if m in METHODS]:
            if method not in declared.get(path, {}):
                raise UndescribedOperation(f"{method.upper()} {path} has no OpenAPI description")
            item[method] = _merge_operation(item[method], declared[path][method])
    described.setdefault("components", {}).setdefault("schemas", {}).update(copy.deepcopy(SCHEMAS))
    return described


def merge_path_items(*modules: PathItems) -> dict[str, dict[str, Operation]]:
    """The path items of several modules together (two modules may serve different methods of one path)."""
    merged: dict[str, dict[str, Operation]] = {}
    for items in modules:
        for path, item in items.items():
            for method, declared in item.items():
                if method in merged.setdefault(path, {}):
                    raise UndescribedOperation(f"{method.upper()} {path} is described twice")
                merged[path][method] = declared
    return merged


class DescribedJsonRenderPlugin(JsonRenderPlugin):
    """Serves ``openapi.json`` as :func:`describe` makes it (computed once)."""

    def __init__(self, declared: PathItems, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.declared = declared
        self._rendered: bytes | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The described document as JSON."""
        if self._rendered is None:
            self._rendered = self.render_json(request, describe(openapi_schema, self.declared))
        return self._rendered


__all__ = [
    "ACCEPT_LANGUAGE",
    "AUTHORIZATION_BASIC",
    "AUTHORIZATION_BEARER",
    "DPOP",
    "HTML",
    "INTEGER",
    "OBJECT",
    "SCHEMAS",
    "STRING",
    "DescribedJsonRenderPlugin",
    "Operation",
    "PathItems",
    "Responses",
    "UndescribedOperation",
    "answer",
    "describe",
    "form_body",
    "html",
    "json_answer",
    "json_body",
    "merge_path_items",
    "not_found",
    "oauth_error",
    "obj",
    "operation",
    "parameter",
    "problem",
    "query",
    "ref",
    "responses",
    "see_other",
    "strings",
    "too_large",
]
