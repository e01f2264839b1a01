"""Pairwise subject identifiers (OIDC Core §8.1): one ``sub`` per account and sector, unlinkable across sectors.

``sub`` = base64url(HMAC-SHA256(salt, sector || 0x00 || account_id)), where the sector is the client's
``sector_identifier`` or else the host of its redirect URIs (registration guarantees they share one host), and
the salt is ``authorization.pairwise_salt``. Without a configured salt a development salt is generated in the
data directory (like the development KEK, :mod:`idp.signing`), and :func:`idp.settings.unsafe_warnings` says so.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from idp.clients import Client
from idp.settings import Settings
from keys.jose.b64 import b64url_encode
from servicekit.secret_files import write_once

DEV_SALT_FILE: Final = "dev-pairwise-salt"


@functools.lru_cache(maxsize=8)
def _development_salt(data: str) -> bytes:
    """The development salt of the data directory ``data``, created (mode 0600) by whichever process gets there
    first; read once per process (the file never changes once it exists)."""
    path = Path(data).resolve() / DEV_SALT_FILE
    write_once(path, secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="ascii").strip().encode("ascii")


def pairwise_salt(settings: Settings) -> bytes:
    """The configured salt, or the development salt of the data directory."""
    configured = settings.authorization.pairwise_salt
    return configured.reveal().encode("utf-8") if configured else _development_salt(settings.data_dir)


def sector_of(client: Client) -> str:
    """The client's sector (OIDC Core §8.1): its ``sector_identifier``, else the host of its redirect URIs."""
    if client.sector_identifier:
        return client.sector_identifier
    host = urlsplit(client.redirect_uris[0]).hostname
    if host is None:
        raise ValueError(f"client {client.client_id} has neither a sector identifier nor a redirect URI host")
    return host


def subject_for(account_id: str, client: Client, settings: Settings) -> str:
    """The pairwise ``sub`` of ``account_id`` at ``client`` (OIDC Core §8.1)."""
    message = sector_of(client).encode("utf-8") + b"\x00" + account_id.encode("utf-8")
    return b64url_encode(hmac.new(pairwise_salt(settings), message, hashlib.sha256).digest())


__all__ = ["pairwise_salt", "sector_of", "subject_for"]
