"""``idp``: run and administer the OpenID provider.

Commands print JSON on standard output and log JSON lines on standard error. Exit status: 0 success,
1 failure (the reason is logged), 2 bad usage or invalid configuration.

  idp serve [--host H] [--port P] [--workers N]   run the provider (uvicorn)
  idp demo                                         provider + virtual card + card agent + a demo relying party
  idp migrate                                      apply database migrations
  idp cleanup                                      delete expired rows, prune expired keys
  idp keys list | rotate [--alg A] | rewrap        signing keys
  idp clients add | list | remove                  registered clients
  idp credentials revoke | suspend | reinstate | status-lists | keys | sweep | ca   the credential issuer
  idp accounts show | unlink --key-id KEYID        accounts with several card keys (idp.login.accounts_cli)
  idp audit export [--since SEQ] [--output F]     the audit trail as JSON lines
  idp audit verify [--file F]                      check the audit chain (the database's, or an export)
  idp config [--docs]                              effective settings (secrets hidden) or their documentation
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from idp.app import provider_services
from idp.client_presentation import PURPOSE, PresentationError, presentation_from_metadata
from idp.clients import DEFAULT_ID_TOKEN_ALG, AuthMethod, InvalidClientMetadata, register_client
from idp.jobs import cleanup, rotate_keys
from idp.login import accounts_cli, counter_cli
from idp.runtime import Services, StartupError, utcnow
from idp.settings import SCHEMA, Settings, unsafe_warnings
from idp.storage import ClientExists, Database, migrate
from idp.storage.audit import audit_keys, audit_trail, record
from idp.vci import cli as credentials_cli
from idp.web.logos import LogoError, with_logo
from keys.service.errors import KeyServiceError
from keys.service.signer import SIGNING_ALGORITHMS
from servicekit import cli
from servicekit.audit import read_lines
from servicekit.audit import verify as verify_chain
from servicekit.cli import EXIT_FAILED, EXIT_OK, print_json

_LANG_PREFIX: Final = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="idp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_config_option(parser, SCHEMA)
    sub = parser.add_subparsers(dest="command", required=True)

    cli.add_serve_parser(sub, help="run the provider")
    demo = sub.add_parser("demo", help="the whole service with a virtual card and a demo relying party (test mode)")
    demo.add_argument("--port", type=int, default=8000, help="provider port (default 8000)")
    demo.add_argument("--rp-port", type=int, default=8001, help="demo relying party port (default 8001)")
    demo.add_argument("--agent-port", type=int, default=47210, help="card agent port (default 47210)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("cleanup", help="delete expired rows and prune expired signing keys")

    keys = sub.add_parser("keys", help="signing keys").add_subparsers(dest="action", required=True)
    keys.add_parser("list", help="list keys with their state")
    rotate = keys.add_parser("rotate", help="create successor keys now (they sign after keys.publish_lead)")
    rotate.add_argument("--alg", action="append", choices=SIGNING_ALGORITHMS, help="only this algorithm (repeatable)")
    keys.add_parser("rewrap", help="re-encrypt every key under the first key-encryption key")

    clients = sub.add_parser("clients", help="registered clients").add_subparsers(dest="action", required=True)
    add = clients.add_parser("add", help="register a client")
    add.add_argument("client_id")
    add.add_argument("--redirect-uri", action="append", required=True, help="exact redirect URI (repeatable)")
    add.add_argument("--auth-method", choices=[m.value for m in AuthMethod], default=AuthMethod.PRIVATE_KEY_JWT.value)
    source = add.add_mutually_exclusive_group()
    source.add_argument("--jwks", type=Path, help="file with the client's public JWK Set")
    source.add_argument("--jwks-uri", help="URL of the client's public JWK Set")
    add.add_argument("--id-token-alg", choices=SIGNING_ALGORITHMS, default=DEFAULT_ID_TOKEN_ALG)
    add.add_argument("--sector-identifier", help="host name pairwise subject identifiers are computed for")
    add.add_argument("--require-par", action="store_true", help="require pushed authorization requests")
    add.add_argument("--post-logout-redirect-uri", action="append", default=[],
                     help="exact URI RP-initiated logout may return to (repeatable)")
    add.add_argument("--backchannel-logout-uri", help="where back-channel logout tokens are POSTed")
    add.add_argument("--backchannel-logout-session-required", action="store_true",
                     help="logout tokens for this client carry sid")
    add.add_argument("--dpop-bound", action="store_true", help="access tokens only with DPoP (RFC 9449 §5.2)")
    shown = "(repeatable; LANG=... for one language, e.g. ja=..., OIDC Dynamic Client Registration §2.1)"
    add.add_argument("--client-name", action="append", default=[], help=f"the name people see {shown}")
    add.add_argument("--logo-uri", help="https URL of the logo (fetched once, checked and served by the provider)")
    add.add_argument("--policy-uri", action="append", default=[], help=f"https URL of the privacy policy {shown}")
    add.add_argument("--tos-uri", action="append", default=[], help=f"https URL of the terms of service {shown}")
    add.add_argument("--purpose", action="append", default=[], metavar="CLAIMS[#LANG]=TEXT",
                     help="purpose of use shown beside these space-separated claims or scopes (repeatable), "
                          "e.g. 'name birthdate#en=To confirm who you are'")
    clients.add_parser("list", help="list clients")
    remove = clients.add_parser("remove", help="remove a client")
    remove.add_argument("client_id")

    credentials_cli.add_parser(sub)
    counter_cli.add_parser(sub)
    accounts_cli.add_parser(sub)

    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="action", required=True)
    export = audit.add_parser("export", help="write the entries as JSON lines")
    export.add_argument("--since", type=int, default=0, help="only the entries after this seq")
    export.add_argument("--output", type=Path, help="the file to write (default: standard output)")
    verify = audit.add_parser("verify", help="check the chain; exit 1 naming the first bad entry")
    verify.add_argument("--file", type=Path, help="an export to check instead of the database")

    cli.add_config_parser(sub)
    return parser


def _iso(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


async def _with_services(settings: Settings, action: Callable[[Services], Awaitable[int]]) -> int:
    async with provider_services(settings) as services:
        return await action(services)


async def _keys_list(services: Services) -> int:
    now = utcnow()
    print_json([{"kid": k.kid, "alg": k.alg, "generation": k.generation, "state": k.state(now).value,
             "published": k.published(now), "backend": k.backend,
             "kek_id": None if k.wrapped is None else k.wrapped.kek_id, "created_at": _iso(k.created_at),
             "activate_at": _iso(k.activate_at), "retire_at": _iso(k.retire_at), "expires_at": _iso(k.expires_at)}
            for k in await services.keyset.keys(now, reload=True)])
    return EXIT_OK


def _keys_rotate(algorithms: Sequence[str] | None) -> Callable[[Services], Awaitable[int]]:
    async def run(services: Services) -> int:
        created = await services.keyset.rotate(utcnow(), force=True, algorithms=algorithms)
        for key in created:
            await record(services, "key_created", kid=key.kid, alg=key.alg, actor="cli")
        print_json({"created": [{"kid": k.kid, "alg": k.alg, "activate_at": _iso(k.activate_at)} for k in created],
                "note": None if created else "a successor is already published and waiting to activate"})
        return EXIT_OK
    return run


async def _keys_rewrap(services: Services) -> int:
    rewrapped = await services.keyset.rewrap(utcnow())
    await record(services, "keys_rewrapped", count=len(rewrapped), actor="cli")
    print_json({"rewrapped": rewrapped})
    return EXIT_OK


async def _cleanup(services: Services) -> int:
    report = await cleanup(services)
    print_json({"deleted": report.deleted, "batches": report.batches, "pruned_keys": report.pruned_keys})
    return EXIT_OK


async def _migrate(settings: Settings) -> int:
    db = Database.connect(settings.database_url)
    try:
        print_json({"revision": await migrate(db)})
    finally:
        await db.dispose()
    return EXIT_OK


def _presentation_metadata(args: argparse.Namespace) -> dict[str, Any]:
    """The presentation members (idp.client_presentation) of ``clients add``'s options: ``LANG=TEXT`` values become
    ``member#LANG``, ``CLAIMS[#LANG]=TEXT`` purposes the ``purpose_of_use`` object."""
    document: dict[str, Any] = {}
    for member, values in (("client_name", args.client_name), ("policy_uri", args.policy_uri),
                           ("tos_uri", args.tos_uri)):
        for value in values:
            tag, sep, text = value.partition("=")
            tagged = sep and _LANG_PREFIX.fullmatch(tag)
            document[f"{member}#{tag}" if tagged else member] = text if tagged else value
    if args.logo_uri is not None:
        document["logo_uri"] = args.logo_uri
    if args.purpose:
        purposes = [value.partition("=") for value in args.purpose]
        if bad := [claims for claims, sep, _ in purposes if not sep]:
            raise ValueError(f"--purpose needs CLAIMS=TEXT: {bad[0]!r}")
        document[PURPOSE] = {claims.strip(): text for claims, _, text in purposes}
    return document


def _clients_add(args: argparse.Namespace) -> Callable[[Services], Awaitable[int]]:
    async def run(services: Services) -> int:
        jwks = json.loads(args.jwks.read_text(encoding="utf-8")) if args.jwks else None
        settings = services.settings
        try:
            presentation = presentation_from_metadata(_presentation_metadata(args), test_mode=settings.test_mode)
        except PresentationError as exc:
            raise InvalidClientMetadata("invalid_client_metadata", str(exc)) from None
        client, secret = register_client(
            args.client_id, auth_method=AuthMethod(args.auth_method), redirect_uris=args.redirect_uri,
            id_token_signed_response_alg=args.id_token_alg, jwks=jwks, jwks_uri=args.jwks_uri,
            sector_identifier=args.sector_identifier, require_par=args.require_par,
            post_logout_redirect_uris=args.post_logout_redirect_uri, backchannel_logout_uri=args.backchannel_logout_uri,
            backchannel_logout_session_required=args.backchannel_logout_session_required,
            dpop_bound_access_tokens=args.dpop_bound, algorithms=settings.keys.algorithms, presentation=presentation)
        try:
            client, logo = await with_logo(client, services.outbound, deadline=settings.registration.fetch_timeout)
        except LogoError as exc:
            raise InvalidClientMetadata("invalid_client_metadata", f"{exc} ({exc.reason})") from None
        await services.clients.add(client)
        await services.clients.set_logo(client.client_id, logo)
        await record(services, "client_registered", client_id=client.client_id, actor="cli")
        print_json({"client": client.describe(), "client_secret": secret})
        return EXIT_OK
    return run


async def _clients_list(services: Services) -> int:
    print_json([c.describe() for c in await services.clients.all()])
    return EXIT_OK


def _clients_remove(client_id: str) -> Callable[[Services], Awaitable[int]]:
    async def run(services: Services) -> int:
        removed = await services.clients.remove(client_id)
        if removed:
            await record(services, "client_deleted", client_id=client_id, actor="cli")
        print_json({"removed": removed})
        return EXIT_OK if removed else EXIT_FAILED
    return run


def _audit_export(since: int, output: Path | None) -> Callable[[Services], Awaitable[int]]:
    async def run(services: Services) -> int:
        trail = audit_trail(services.settings, services.db)
        if output is None:
            await trail.export(sys.stdout, since)
            return EXIT_OK
        with output.open("x", encoding="utf-8") as out:
            count = await trail.export(out, since)
        head = await trail.head()
        print_json({"exported": count, "head_seq": head.seq, "head_hash": head.hash})
        return EXIT_OK
    return run


def _audit_verify(file: Path | None) -> Callable[[Services], Awaitable[int]]:
    async def run(services: Services) -> int:
        if file is None:
            verdict = await audit_trail(services.settings, services.db).verify()
        else:
            with file.open(encoding="utf-8") as lines:
                verdict = verify_chain(read_lines(lines), keys=audit_keys(services.settings),
                                       unkeyed_until=services.settings.audit.unkeyed_until)
        problem = verdict.problem
        print_json({"ok": verdict.ok, "checked": verdict.checked, "last_seq": verdict.last_seq,
                    "last_hash": verdict.last_hash,
                    "problem": None if problem is None else {"kind": problem.kind.value, "seq": problem.seq,
                                                             "detail": problem.detail}})
        if problem is not None:
            print(f"audit chain broken: {problem}", file=sys.stderr)
        return EXIT_OK if problem is None else EXIT_FAILED
    return run


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    if args.port and not SCHEMA.is_set("issuer", args.config):
        # the development issuer names the port actually served; the workers read it from the environment
        issuer = urlsplit(settings.issuer)._replace(netloc=f"{urlsplit(settings.issuer).hostname}:{args.port}")
        settings = dataclasses.replace(settings, issuer=issuer.geturl())
        os.environ[SCHEMA.env_name("issuer")] = settings.issuer

    async def prepare(services: Services) -> int:
        await rotate_keys(services)  # first keys exist before any worker starts
        return EXIT_OK

    asyncio.run(_with_services(settings, prepare))
    return cli.serve("idp.app:app_from_environment", args, settings, config_env=SCHEMA.config_env,
                     metrics_dir_prefix="idp-metrics-")


def _action(args: argparse.Namespace) -> Callable[[Services], Awaitable[int]]:
    table: dict[tuple[str, str | None], Callable[[], Callable[[Services], Awaitable[int]]]] = {
        ("cleanup", None): lambda: _cleanup,
        ("keys", "list"): lambda: _keys_list,
        ("keys", "rotate"): lambda: _keys_rotate(args.alg),
        ("keys", "rewrap"): lambda: _keys_rewrap,
        ("clients", "add"): lambda: _clients_add(args),
        ("clients", "list"): lambda: _clients_list,
        ("clients", "remove"): lambda: _clients_remove(args.client_id),
        ("audit", "export"): lambda: _audit_export(args.since, args.output),
        ("audit", "verify"): lambda: _audit_verify(args.file),
    }
    if args.command == "credentials":
        return credentials_cli.action(args, print_json)
    if args.command == "counter":
        return counter_cli.action(args, print_json)
    if args.command == "accounts":
        return accounts_cli.action(args, print_json)
    return table[(args.command, getattr(args, "action", None))]()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``idp`` console script."""
    args = build_parser().parse_args(argv)
    settings = cli.settings_for_command(SCHEMA, args, unsafe_warnings)
    if isinstance(settings, int):
        return settings
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "demo":
        from idp import demo

        return demo.run(settings.data_path, port=args.port, rp_port=args.rp_port, agent_port=args.agent_port)
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        return asyncio.run(_with_services(settings, _action(args)))
    except InvalidClientMetadata as exc:
        print(f"{exc.error}: {exc.description}", file=sys.stderr)
    except ClientExists as exc:
        print(f"client {exc} already exists", file=sys.stderr)
    except (KeyServiceError, StartupError, OSError, ValueError) as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_FAILED

