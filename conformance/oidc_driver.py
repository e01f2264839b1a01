"""openid-client (npm, an OpenID Certified relying party) as a child process: ``oidc_node/driver.mjs`` speaking
JSON lines. Each call is one relying-party step (build an authorization URL, redeem the response, call userinfo,
...); openid-client does the protocol checks, the harness's browser does the user's part in between."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import IO, Any, Final

from conformance.oidc_targets import NODE_DIR, TargetError, ensure_node_modules

_CALL_TIMEOUT: Final = 30.0


class RpError(Exception):
    """openid-client refused or the server answered with an error: ``error`` (the OAuth error code, if any),
    ``status`` (HTTP status, if any), ``code`` (openid-client's own error code)."""

    def __init__(self, details: dict[str, Any]) -> None:
        self.details = details
        self.error: str | None = details.get("error")
        self.status: int | None = details.get("status")
        self.code: str | None = details.get("code")
        parts = [p for p in (self.error, self.status and f"HTTP {self.status}", self.code) if p]
        super().__init__(f"{', '.join(map(str, parts)) or details.get('name')}: {details.get('message', '')}")


class OpenIdClient:
    """The driver process (``script``: ``driver.mjs``, or ``decoupled.mjs`` for CIBA and the device grant);
    :meth:`call` runs one operation and returns its result (or raises :class:`RpError`)."""

    def __init__(self, log: Path, script: str = "driver.mjs") -> None:
        ensure_node_modules()
        self._log: IO[bytes] = log.open("ab")
        self._process = subprocess.Popen(["node", str(NODE_DIR / script)], cwd=NODE_DIR, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1)
        self._next = 0

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        """Run ``op`` with ``args`` (see driver.mjs for the operations)."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._next += 1
        try:
            self._process.stdin.write(json.dumps({"id": self._next, "op": op, **args}) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise TargetError(f"the openid-client driver exited ({self._process.poll()})") from None
        line = self._process.stdout.readline()
        if not line:
            raise TargetError(f"the openid-client driver exited ({self._process.wait(_CALL_TIMEOUT)})")
        answer = json.loads(line)
        if answer.get("id") != self._next:
            raise TargetError(f"the openid-client driver answered out of order: {line[:200]}")
        if not answer["ok"]:
            raise RpError(answer["error"])
        result: dict[str, Any] = answer["result"]
        return result

    def close(self) -> None:
        """Close stdin (the driver exits), then stop it by PID if it lingers."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> OpenIdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["OpenIdClient", "RpError"]
