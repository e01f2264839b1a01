"""servicekit.http.openapi: declared operations merged into litestar's document, strictly; servicekit.http.options:
``OPTIONS`` names every method of a path whose methods come from separate handlers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath
from litestar.testing import TestClient
from openapi_spec_validator import validate

from servicekit.http import openapi as doc
from servicekit.http.options import options_answer


@get("/things/{thing_id:str}", sync_to_thread=False)
def read_thing(thing_id: FromPath[str]) -> dict[str, str]:
    return {"id": thing_id}


@post("/things/{thing_id:str}", sync_to_thread=False)
def change_thing(thing_id: FromPath[str]) -> None:
    return None


DECLARED: dict[str, Any] = {"/things/{thing_id}": {
    "get": doc.operation(parameters=[doc.DPOP], responses=doc.responses(
        doc.json_answer(200, "the thing", doc.obj(doc.strings("id"), ("id",))), doc.not_found())),
    "post": doc.operation(body=doc.form_body(doc.strings("name"), ("name",)), responses=doc.responses(
        {"204": {"description": "changed"}}, doc.oauth_error(400), doc.too_large())),
}}


def _app(declared: dict[str, Any], **options: Any) -> Litestar:
    return Litestar([read_thing, change_thing], openapi_config=OpenAPIConfig(
        title="things", version="1", path="/schema", render_plugins=[doc.DescribedJsonRenderPlugin(declared)]),
        **options)


def test_declarations_replace_what_litestar_guessed_and_the_document_is_valid() -> None:
    with TestClient(_app(DECLARED)) as client:
        document = client.get("/schema/openapi.json").json()
    validate(document)  # OpenAPI 3.1
    read = document["paths"]["/things/{thing_id}"]["get"]
    assert set(read["responses"]) == {"200", "404"}
    assert read["responses"]["404"]["content"] == {"application/problem+json": {"schema": doc.ref("Problem")}}
    assert {(p["name"], p["in"]) for p in read["parameters"]} == {("thing_id", "path"), ("DPoP", "header")}
    change = document["paths"]["/things/{thing_id}"]["post"]
    form = change["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert form["required"] == ["name"]
    assert form["properties"]["name"]["minLength"] == 1
    assert form["additionalProperties"] == {"type": "string"}  # a form holds strings, each parameter once
    assert set(document["components"]["schemas"]) >= {"OAuthError", "Problem"}


def test_an_undescribed_operation_and_a_description_of_nothing_are_refused() -> None:
    with TestClient(_app({"/things/{thing_id}": {"get": DECLARED["/things/{thing_id}"]["get"]}})) as client:
        generated = client.app.openapi_schema.to_schema()
    with pytest.raises(doc.UndescribedOperation, match=re.escape("POST /things/{thing_id} has no OpenAPI description")):
        doc.describe(generated, {"/things/{thing_id}": {"get": DECLARED["/things/{thing_id}"]["get"]}})
    not_served = re.escape("DELETE /things/{thing_id} is described but not served")
    with pytest.raises(doc.UndescribedOperation, match=not_served):
        doc.describe(generated, {"/things/{thing_id}": {**DECLARED["/things/{thing_id}"], "delete": {}}})
    with pytest.raises(doc.UndescribedOperation, match="described twice"):
        doc.merge_path_items(DECLARED, {"/things/{thing_id}": {"get": {}}})


def test_one_status_may_have_several_media_types() -> None:
    merged = doc.responses(doc.oauth_error(400), doc.html(400, description="a page"), doc.problem(413))
    assert set(merged["400"]["content"]) == {"application/json", "text/html"}
    assert "a page" in merged["400"]["description"]


@pytest.mark.parametrize(("installed", "allowed"), [(False, "GET, OPTIONS"), (True, "GET, OPTIONS, POST")])
def test_options_names_every_method_of_the_path(installed: bool, allowed: str) -> None:
    """litestar 2.x alone answers with the first handler's methods (litestar#4169); :func:`options_answer` fixes it."""
    app = _app(DECLARED, **({"before_request": options_answer} if installed else {}))
    with TestClient(app) as client:
        answer = client.options("/things/1")
        assert answer.status_code == 204
        assert answer.headers["allow"] == allowed
        assert client.get("/things/1").json() == {"id": "1"}  # other methods go on as before
