"""The agent as a counter's CIBA authentication device (OpenID Connect CIBA Core 1.0 §1; the provider's half is
``idp.endpoints.counter_agent``).

With ``--counter-reader NAME --counter-key FILE`` the agent asks the provider for work every
:data:`POLL_INTERVAL` seconds (``POST /card-agent/counter/next``), each request proven by a fresh ES256 JWT
(``iss`` NAME, ``aud`` the endpoint's URL, a minute at most, a random ``jti``) signed with the key in FILE, whose
public half an administrator registered (``python -m idp counter add NAME --jwk …``). A request becomes an
ordinary login of the agent (:meth:`cardreader.agent.server.Agent.start`, so a reader busy with a browser login
refuses it): the PIN pad shows the client and the ``binding_message`` (the provider puts both in the challenge's
``client_name``), the person inserts the card and types the PIN, and the agent reports ``done`` or ``failed`` (PIN
cancelled, card removed or refused, reader busy) to ``/card-agent/counter/result``.

``python -m cardreader counter-key FILE`` creates the key (P-256, PKCS#8 PEM, mode 0600) unless FILE exists, and
prints the public JWK for the administrator.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Final

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.agent.server import Agent, Refused
from cardreader.login import Step, Ticket
from keys.jose.jwk import jwk_thumbprint, public_jwk
from keys.service.jws import encode_jwt
from keys.service.signer import SoftwareSigner

NEXT_PATH: Final = "/card-agent/counter/next"
RESULT_PATH: Final = "/card-agent/counter/result"
POLL_INTERVAL: Final = 1.0
ASSERTION_LIFETIME: Final = 30
log = logging.getLogger("cardreader.agent.counter")


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The agent's P-256 key in ``path``, created (mode 0600) when the file does not exist."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or loaded.curve.name != "secp256r1":
        raise ValueError(f"{path} is not a P-256 private key")
    return loaded


def agent_public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public JWK an administrator registers."""
    return public_jwk(key.public_key())


class CounterLink:
    """The agent's link to the provider as reader ``name``: :meth:`poll_once` handles at most one request."""

    def __init__(self, agent: Agent, name: str, key: ec.EllipticCurvePrivateKey, *,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.agent = agent
        self.name = name
        self._signer = SoftwareSigner(key, "ES256", jwk_thumbprint(agent_public_jwk(key)))
        self._http = httpx.Client(base_url=agent.provider.issuer, timeout=10.0, follow_redirects=False,
                                  transport=transport)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _post(self, path: str, **claims: Any) -> httpx.Response:
        now = int(time.time())
        assertion = encode_jwt({"iss": self.name, "aud": self.agent.provider.issuer + path, "iat": now,
                                "exp": now + ASSERTION_LIFETIME, "jti": secrets.token_urlsafe(16), **claims},
                               self._signer)
        return self._http.post(path, json={"assertion": assertion})

    def poll_once(self) -> bool:
        """Ask for a request and, if there is one, run it to its end; True when one was handled."""
        answer = self._post(NEXT_PATH)
        if answer.status_code == 204:
            return False
        if answer.status_code != 200:
            log.warning("counter_refused", extra={"status": answer.status_code})
            return False
        work = answer.json()
        request, deadline = str(work["request"]), float(work["expires_at"])
        outcome = "failed"
        try:
            job = self.agent.start(Ticket.token(str(work["token"])))
            log.info("counter_request", extra={"login": job.id[:6]})
            while not self._stop.is_set():
                current = self.agent.job(job.id)
                if current is None or current.step in (Step.DONE, Step.FAILED):
                    outcome = "done" if current is not None and current.step is Step.DONE else "failed"
                    break
                # the request expired (deadline in whole seconds): free the reader unless the PIN is in
                if time.time() > deadline + 1:
                    self.agent.cancel(job.id)
                time.sleep(0.1)
        except (Refused, ValueError) as exc:
            log.info("counter_request_refused", extra={"reason": str(exc)})
        self._post(RESULT_PATH, request=request, outcome=outcome)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                log.warning("counter_poll_failed", extra={"error": type(exc).__name__})
            self._stop.wait(POLL_INTERVAL)

    def start(self) -> None:
        """Poll in a background thread until :meth:`close`."""
        self._thread = threading.Thread(target=self._loop, name="counter-link", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and close the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http.close()


__all__ = ["CounterLink", "agent_public_jwk", "load_or_create_key"]
