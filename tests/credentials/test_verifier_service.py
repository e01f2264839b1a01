"""The verifier service end to end over real HTTP between processes: ``python -m credentials verifier serve``
(two uvicorn workers on one SQLite file; a second instance with the ``redirect_uri`` prefix), a Status List
served by a small HTTP server from :func:`credentials.status.status_list_token`, and a test holder in this process
that reads the request like a Wallet (Request Object checked with pyjwt), presents credentials of the catalog
signed under the VC test hierarchy, and posts ``direct_post`` / ``direct_post.jwt`` responses."""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import ipaddress
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from conformance.vp_modules import MODULES, Holder, Request, age_query, module
from credentials.errors import StatusUnavailable
from credentials.oid4vp import encrypt_response, random_value
from credentials.status.check import StatusChecker
from credentials.verifier.runtime import status_fetcher
from credentials.verifier.settings import HttpSettings, TrustSettings, outbound_policy
from credentials.verifier.settings import Settings as VerifierSettings
from servicekit.outbound import IPAddress, OutboundClient, OutboundError, OutboundReason
from tests.support.drip import drip_server
from tests.support.processes import free_port, start, stop, wait_healthy

API_KEY = "rp-test-key-" + "k" * 32
RETURN_URI = "https://rp.example.jp/done"


@dataclass
class Verifier:
    """One running service instance."""

    base_url: str
    process: subprocess.Popen[bytes]

    def rp(self, path: str, body: dict[str, Any], key: str | None = API_KEY) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.post(f"{self.base_url}{path}", json=body, headers=headers, timeout=30)

    def create(self, **body: Any) -> dict[str, Any]:
        response = self.rp("/rp/requests", {"dcql_query": age_query(), **body})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def result(self, transaction_id: str, response_code: str | None = None) -> httpx.Response:
        body = {"transaction_id": transaction_id}
        if response_code is not None:
            body["response_code"] = response_code
        return self.rp("/rp/results", body)


def _start(tmp: Path, name: str, config: str, workers: int) -> Verifier:
    port = free_port()
    path = tmp / f"{name}.toml"
    path.write_text(config.replace("PORT", str(port)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYNACARD_VERIFIER_")}
    log = tmp / f"{name}.log"
    process = start([sys.executable, "-m", "credentials", "verifier", "--config", str(path), "serve", "--workers",
                     str(workers)], env=env, log=log)
    base_url = f"http://localhost:{port}"
    try:
        wait_healthy(base_url, process, log, timeout=60)
    except AssertionError:
        stop(process)
        raise
    return Verifier(base_url, process)


@dataclass
class Lab:
    holder: Holder
    signed: Verifier
    plain: Verifier
    status_requests: list[str]
    hashed: Verifier


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("verifier")
    status_port = free_port()
    holder = Holder(status_uri=f"http://127.0.0.1:{status_port}/status/1")
    token = holder.status_list_token().encode()
    requests: list[str] = []

    class StatusHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(200 if self.path == "/status/1" else 404)
            self.send_header("Content-Type", "application/statuslist+jwt")
            self.end_headers()
            self.wfile.write(token if self.path == "/status/1" else b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", status_port), StatusHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    roots = tmp / "roots"
    roots.mkdir()
    (roots / "vc-test-root.pem").write_bytes(holder.pki.root_pem())
    entity = holder.pki.verifier("localhost")
    (tmp / "request.key").write_bytes(entity.key_pem())
    (tmp / "request-chain.pem").write_bytes(entity.chain_pem())
    common = f"""
test_mode = true
data_dir = "{tmp}/DATA"
base_url = "http://localhost:PORT"
[server]
port = PORT
[trust]
issuer_roots_dir = "{roots}"
issuer_root_pins = ["{holder.pki.root_fingerprint}"]
[rp]
api_keys = "{API_KEY}"
redirect_uris = ["{RETURN_URI}"]
"""
    signed = _start(tmp, "signed", common.replace("DATA", "signed") + f"""[client]
id_prefix = "x509_san_dns"
dns_name = "localhost"
signing_key_file = "{tmp / 'request.key'}"
certificate_chain_file = "{tmp / 'request-chain.pem'}"
""", workers=2)
    plain = _start(tmp, "plain", common.replace("DATA", "plain") + """[client]
id_prefix = "redirect_uri"
[presentation]
response_mode = "direct_post"
""", workers=1)
    hashed = _start(tmp, "hashed", common.replace("DATA", "hashed") + f"""[client]
signing_key_file = "{tmp / 'request.key'}"
certificate_chain_file = "{tmp / 'request-chain.pem'}"
""", workers=1)
    try:
        yield Lab(holder, signed, plain, requests, hashed)
    finally:
        for verifier in (signed, plain, hashed):
            stop(verifier.process, timeout=30)
        server.shutdown()


def _wallet_reads(created: dict[str, Any]) -> dict[str, Any]:
    """What a Wallet does with the invocation URL: fetch the Request Object by reference (POST with a
    wallet_nonce, §5.10) and check it with an independent library, or take the parameters by value."""
    query = dict(parse_qsl(urlsplit(created["wallet_url"]).query))
    assert query == created["authorization_request"]
    if "request_uri" not in query:
        return {k: json.loads(v) if k in ("dcql_query", "client_metadata") else v for k, v in query.items()}
    assert query["request_uri_method"] == "post"
    wallet_nonce = random_value()
    response = httpx.post(query["request_uri"], data={"wallet_nonce": wallet_nonce,
                                                      "wallet_metadata": json.dumps({"vp_formats_supported": {}})},
                          headers={"Accept": "application/oauth-authz-req+jwt"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/oauth-authz-req+jwt")
    header = pyjwt.get_unverified_header(response.text)
    assert header["typ"] == "oauth-authz-req+jwt"
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    claims: dict[str, Any] = pyjwt.decode(response.text, leaf.public_key(), algorithms=["ES256"],  # type: ignore[arg-type]
                                          audience="https://self-issued.me/v2")
    assert claims["wallet_nonce"] == wallet_nonce
    assert claims["client_id"] == query["client_id"]
    prefix, _, value = claims["client_id"].partition(":")
    if prefix == "x509_hash":  # §5.9.3: base64url SHA-256 of the leaf certificate that signed the request
        assert value == base64.urlsafe_b64encode(leaf.fingerprint(hashes.SHA256())).rstrip(b"=").decode()
    else:
        assert claims["client_id"] == "x509_san_dns:localhost"
    return claims


def _respond(params: dict[str, Any], presentation: str) -> httpx.Response:
    payload = {"vp_token": {"age": [presentation]}, "state": params["state"]}
    if params["response_mode"] == "direct_post.jwt":
        form = {"response": encrypt_response(payload, params["client_metadata"])}
    else:
        form = {"vp_token": json.dumps(payload["vp_token"]), "state": params["state"]}
    return httpx.post(params["response_uri"], data=form, timeout=30)


def test_same_device_direct_post_jwt(lab: Lab) -> None:
    created = lab.signed.create(redirect_uri=RETURN_URI)
    assert created["response_mode"] == "direct_post.jwt"
    assert created["same_device"]
    params = _wallet_reads(created)
    assert lab.signed.result(created["transaction_id"]).json() == {"status": "pending"}
    answer = _respond(params, module("oid4vp-1final-verifier-happy-flow").build(
        lab.holder, Request(params["client_id"], params["nonce"])))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    redirect = answer.json()["redirect_uri"]
    assert redirect.startswith(RETURN_URI + "?response_code=")
    code = dict(parse_qsl(urlsplit(redirect).query))["response_code"]
    refused = lab.signed.result(created["transaction_id"])
    assert refused.status_code == 403
    assert refused.json()["reason"] == "response_code_mismatch"
    assert lab.signed.result(created["transaction_id"], "wrong").json()["reason"] == "response_code_mismatch"
    result = lab.signed.result(created["transaction_id"], code)
    assert result.status_code == 200
    credential = result.json()["credentials"]["age"][0]
    assert credential["claims"] == {"age_equal_or_over": {"20": True}}  # only what was asked and disclosed
    assert credential["status_checked"]
    assert credential["key_binding"]
    assert credential["iss"] == "https://id.example.jp"
    gone = lab.signed.result(created["transaction_id"], code)  # handed out once
    assert gone.status_code == 404
    assert gone.json()["reason"] == "unknown_transaction"
    assert "/status/1" in lab.status_requests


def test_cross_device_direct_post_by_value_with_redirect_uri_prefix(lab: Lab) -> None:
    created = lab.plain.create(request_method="value")
    params = _wallet_reads(created)
    assert params["client_id"] == f"redirect_uri:{params['response_uri']}"
    assert params["response_mode"] == "direct_post"
    assert "jwks" not in params["client_metadata"]
    answer = _respond(params, lab.holder.present(lab.holder.credential(), Request(params["client_id"],
                                                                                   params["nonce"])))
    assert answer.status_code == 200
    assert answer.json() == {}
    result = lab.plain.result(created["transaction_id"]).json()  # cross-device: no response_code needed
    assert result["status"] == "verified"
    assert result["credentials"]["age"][0]["claims"] == {"age_equal_or_over": {"20": True}}
    refused = lab.plain.rp("/rp/requests", {"dcql_query": age_query(), "request_method": "request_uri"})
    assert refused.json()["reason"] == "invalid_request"  # unsigned requests travel by value only


@pytest.mark.parametrize("negative", [m for m in MODULES if m.reason is not None], ids=lambda m: m.name)
def test_negative_modules_are_refused_with_their_reason(lab: Lab, negative: Any) -> None:
    created = lab.signed.create()
    params = _wallet_reads(created)
    answer = _respond(params, negative.build(lab.holder, Request(params["client_id"], params["nonce"])))
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_request", "error_description": negative.reason}
    result = lab.signed.result(created["transaction_id"]).json()
    assert result["status"] == "rejected"
    assert result["reason"] == negative.reason


def test_replays_are_refused(lab: Lab) -> None:
    created = lab.signed.create()
    params = _wallet_reads(created)
    presentation = lab.holder.present(lab.holder.credential(), Request(params["client_id"], params["nonce"]))
    assert _respond(params, presentation).status_code == 200
    again = _respond(params, presentation)  # the same response again: the nonce was used
    assert again.status_code == 400
    assert again.json()["error_description"] == "already_responded"
    other = _wallet_reads(lab.signed.create())  # the same presentation in a fresh transaction
    assert _respond(other, presentation).json()["error_description"] == "nonce_mismatch"
    assert lab.signed.result(created["transaction_id"]).json()["status"] == "verified"


def test_two_workers_accept_one_response_per_transaction(lab: Lab) -> None:
    created = lab.signed.create()
    params = _wallet_reads(created)
    presentation = lab.holder.present(lab.holder.credential(), Request(params["client_id"], params["nonce"]))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _respond(params, presentation), range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [400] * 7
    assert {a.json().get("error_description") for a in answers if a.status_code == 400} == {"already_responded"}


def test_request_objects_and_the_rp_api(lab: Lab) -> None:
    created = lab.signed.create(response_mode="direct_post")
    request_uri = created["authorization_request"]["request_uri"]
    first, second = httpx.get(request_uri, timeout=30), httpx.get(request_uri, timeout=30)
    assert first.status_code == second.status_code == 200  # fetched twice (OIDF module): still served
    assert pyjwt.decode(second.text, options={"verify_signature": False})["response_mode"] == "direct_post"
    unknown = httpx.get(f"{lab.signed.base_url}/wallet/requests/{random_value()}", timeout=30)
    assert unknown.status_code == 404
    assert unknown.json()["error_description"] == "unknown_transaction"
    unauthenticated = lab.signed.rp("/rp/requests", {"dcql_query": age_query()}, key=None)
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"].startswith("application/problem+json")
    assert lab.signed.rp("/rp/requests", {"dcql_query": age_query()}, key="x" * 40).json()["reason"] == "unauthorised"
    bad = [({"dcql_query": {"credentials": []}}, "invalid_query"),
           ({"dcql_query": age_query(), "redirect_uri": "https://evil.example/"}, "invalid_request"),
           ({"dcql_query": age_query(), "response_mode": "fragment"}, "invalid_request"),
           ({"dcql_query": {"credentials": [{"id": "m", "format": "mso_mdoc", "meta": {}}]}}, "invalid_request")]
    for body, reason in bad:
        response = lab.signed.rp("/rp/requests", body)
        assert response.status_code == 400
        assert response.json()["reason"] == reason
    created = lab.signed.create()
    params = _wallet_reads(created)
    wallet_error = httpx.post(params["response_uri"], data={"error": "access_denied", "state": params["state"]},
                              timeout=30)
    assert wallet_error.status_code == 200  # §8.2: an error response that was processed
    assert wallet_error.json() == {}
    assert lab.signed.result(created["transaction_id"]).json() == {"status": "rejected", "reason": "wallet_error",
                                                                   "detail": "access_denied"}
    same_device = lab.signed.create(redirect_uri=RETURN_URI)
    denied = httpx.post(_wallet_reads(same_device)["response_uri"], data={"error": "access_denied"}, timeout=30)
    assert denied.json()["redirect_uri"].startswith(RETURN_URI + "?response_code=")
    clear = httpx.post(params["response_uri"], data={"vp_token": "{}", "state": params["state"]}, timeout=30)
    assert clear.json()["error_description"] == "unknown_transaction"  # answered, fetched, deleted
    repeated = httpx.post(params["response_uri"], content=b"state=a&state=b",
                          headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert repeated.status_code == 400
    assert lab.signed.result(random_value()).status_code == 404


def test_status_list_is_cached_by_ttl(lab: Lab) -> None:
    """Every presentation above referenced the one Status List (ttl 10 minutes): each worker fetched it once."""
    for _ in range(3):
        params = _wallet_reads(lab.signed.create())
        _respond(params, lab.holder.present(lab.holder.credential(), Request(params["client_id"], params["nonce"])))
    fetches = lab.status_requests.count("/status/1")
    assert 1 <= fetches <= 4  # one per worker: two of the signed instance, one each of the others


def test_x509_hash_prefix_the_default(lab: Lab) -> None:
    created = lab.hashed.create(redirect_uri=RETURN_URI)
    params = _wallet_reads(created)
    assert params["client_id"].startswith("x509_hash:")
    answer = _respond(params, lab.holder.present(lab.holder.credential(), Request(params["client_id"],
                                                                                   params["nonce"])))
    code = dict(parse_qsl(urlsplit(answer.json()["redirect_uri"]).query))["response_code"]
    assert lab.hashed.result(created["transaction_id"], code).json()["status"] == "verified"


# Status List fetches go through the outbound client (issue 15): address policy, whole-request deadline


def _resolving_to(address: str, asked: list[str]) -> Any:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        asked.append(host)
        return [ipaddress.ip_address(address)]
    return resolve


@pytest.mark.parametrize("address", ["10.4.4.4", "169.254.169.254", "fe80::1", "127.0.0.1"])
def test_a_status_list_name_resolving_to_a_non_public_address_is_not_fetched(address: str) -> None:
    settings = VerifierSettings()  # not test mode: loopback is refused too
    asked: list[str] = []
    outbound = OutboundClient(outbound_policy(settings), resolver=_resolving_to(address, asked))
    fetch = status_fetcher(settings, outbound)
    with pytest.raises(OutboundError) as caught:
        fetch("https://status.issuer.example.jp/lists/1")
    assert caught.value.reason is OutboundReason.REFUSED_ADDRESS
    assert asked == ["status.issuer.example.jp"]
    checker = StatusChecker(fetch=fetch)
    with pytest.raises(StatusUnavailable) as unavailable:
        checker.token("https://status.issuer.example.jp/lists/1", dt.datetime.now(dt.UTC))
    assert unavailable.value.detail == "fetch failed: OutboundError"  # nothing about the target


def test_the_allow_list_admits_an_internal_status_server() -> None:
    settings = VerifierSettings(http=HttpSettings(outbound_allow=("10.4.0.0/16",)))
    assert outbound_policy(settings).admits(ipaddress.ip_address("10.4.4.4"))
    assert not outbound_policy(settings).admits(ipaddress.ip_address("10.5.4.4"))


def test_a_slow_status_list_is_cut_at_the_deadline() -> None:
    settings = VerifierSettings(test_mode=True, trust=TrustSettings(status_timeout=1.0))
    fetch = status_fetcher(settings, OutboundClient(outbound_policy(settings)))
    with drip_server(b"e" * 100, media_type="application/statuslist+jwt") as base:
        started = time.monotonic()
        with pytest.raises(OutboundError) as caught:
            fetch(base + "/status/1")
    assert caught.value.reason is OutboundReason.TIMEOUT
    assert time.monotonic() - started < 5  # the list would take 20 s, each octet well within 1 s
