"""Every setting of the provider, with its default, description and recommendation (the one defaults file).

Settings come from a TOML file (``--config`` or ``MYNACARD_CONFIG``) and from ``MYNACARD_*``
environment variables, which win over the file. The variable of ``[section] name`` is
``MYNACARD_SECTION_NAME`` (``MYNACARD_NAME`` for top-level options). Values are checked together at
start-up (:func:`load_settings` raises :class:`SettingsError` listing every problem); defaults that are
fine on a laptop but unsafe in production are reported by :func:`unsafe_warnings`, which the provider
logs loudly at every start. ``idp config --docs`` prints this file as a table.

The engine (parsing, durations such as ``"15m"``, secrets, documentation) is :mod:`servicekit.settings`,
shared with the verifier service; this module holds only the provider's sections and checks.
Like node-oidc-provider's ``lib/helpers/defaults.js``, an option's documentation lives next to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from keys.cms.display import MAX_DOCUMENTS, MAX_LABEL_CHARS
from keys.service.signer import SIGNING_ALGORITHMS
from servicekit import settings as engine
from servicekit.kek import KekSettings
from servicekit.outbound import AddressPolicy, allow_list_problems
from servicekit.settings import OptionInfo, Secret, ServerSettings, SettingsError, SettingsSchema, is_loopback, option

__all__ = ["CONFIG_ENV", "ENV_PREFIX", "SCHEMA", "OptionInfo", "Secret", "ServerSettings", "Settings",
           "SettingsError", "check", "describe", "iter_options", "load_settings", "outbound_policy",
           "unsafe_warnings"]

ENV_PREFIX: Final = "MYNACARD_"
CONFIG_ENV: Final = "MYNACARD_CONFIG"
_DATABASE_SCHEMES: Final = ("sqlite", "postgresql+asyncpg", "postgresql+psycopg")
_SCHEME_ALIASES: Final = {"sqlite+pysqlite": "sqlite", "sqlite+aiosqlite": "sqlite", "postgresql": "postgresql+asyncpg",
                          "postgres": "postgresql+asyncpg"}


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """``[database]``: where every piece of state lives."""

    url: Secret = engine.secret_option(
        doc="SQLAlchemy URL (kept secret: it may hold a password): sqlite:///path, "
            "postgresql+asyncpg://… or postgresql+psycopg://… (postgresql:// picks asyncpg). "
            "Empty: SQLite file idp.sqlite3 in the data directory.",
        recommend="PostgreSQL for several workers on several machines.",
    )
    pool_size: int = option(10, doc="PostgreSQL connections each worker process keeps in each of its two pools "
                                    "(prepared statements on asyncpg, and SQLAlchemy's engine, which may add as "
                                    "many again at peaks).",
                            recommend="workers x (2 x pool_size + 1 listening for client changes) (the engine's "
                                      "pool x 2 at peaks) within PostgreSQL's max_connections.")
    migrate_on_start: bool = option(True, doc="Apply pending Alembic migrations when a process starts.",
                                    recommend="Disable and run `idp migrate` from the deployment if the "
                                              "service's database role may not change the schema.")
    client_cache_seconds: int = option(
        60, doc="PostgreSQL: seconds at most a worker keeps a registered client it read. Changes through the "
                "provider (registration, `idp clients`) reach every worker when they commit (LISTEN/NOTIFY, "
                "read through while that connection is down); this bounds a change made around it (SQL by "
                "hand, a restore). 0: read every time.",
        recommend="Keep short if clients are edited in the database directly.")


@dataclass(frozen=True, slots=True)
class KeySettings(KekSettings):
    """``[keys]``: the provider's signing keys and the key-encryption keys protecting them (``keks``,
    ``kek_file``: :class:`servicekit.kek.KekSettings`)."""

    keks: Secret = engine.secret_option(
        doc="Key-encryption keys, base64url of 32 random octets, separated by commas; the first encrypts, "
            "all decrypt.",
        recommend="Set through MYNACARD_KEYS_KEKS from a secret store. To rotate, put the new KEK first, run "
                  "`idp keys rewrap`, then drop the old one.",
    )
    algorithms: tuple[str, ...] = option(
        ("ES256", "PS256", "RS256"),
        doc="JWS algorithms with a key each. Clients choose one (id_token_signed_response_alg); ES256 is "
            "the default and is required here.",
        recommend="ES256 and PS256 for FAPI 2.0; keep RS256 only for relying parties that need it.")
    backend: str = option("software", doc="Where new private keys live: 'software' (encrypted in the "
                                          "database) or 'pkcs11' (in an HSM).",
                          recommend="pkcs11 where an HSM is available.")
    rotation_interval: float = option(30 * 86400.0, doc="How long a key signs before its successor takes over.",
                                      recommend="30 days or less.")
    publish_lead: float = option(86400.0, doc="How long a new key is in the JWKS before it signs. Must be at "
                                              "least jwks_max_age + cache_ttl.")
    cache_ttl: float = option(60.0, doc="How long a worker uses its cached key rows before reloading them "
                                        "(how fast rotations reach every worker).")
    jwks_max_age: float = option(3600.0, doc="Cache-Control max-age of the JWKS response.")
    rotation_check_interval: float = option(60.0, doc="How often each worker checks whether a successor key "
                                                      "is due (0: never; then rotate with `idp keys rotate`).")
    pkcs11_module: str = option("/usr/lib/softhsm/libsofthsm2.so", doc="PKCS#11 module (backend pkcs11).")
    pkcs11_token_label: str = option("", doc="Label of the PKCS#11 token holding the keys (backend pkcs11).")
    pkcs11_pin: Secret = engine.secret_option(
        doc="User PIN of that token (backend pkcs11).",
        recommend="Set through MYNACARD_KEYS_PKCS11_PIN from a secret store.",
    )


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """``[tokens]``: lifetimes of signed tokens (they decide how long retired keys stay published)."""

    id_token_ttl: float = option(3600.0, doc="Lifetime of ID tokens.")
    access_token_ttl: float = option(600.0, doc="Lifetime of access tokens (RFC 9068 JWTs).",
                                     recommend="10 minutes or less; sender-constrain them with DPoP.")
    clock_tolerance: float = option(15.0, doc="Allowed clock difference when checking times in tokens "
                                              "and assertions; also added to key retention.",
                                    recommend="15 to 30 seconds; kiosk clocks drift.")
    client_assertion_max_lifetime: float = option(
        600.0,
        doc="Longest accepted exp - now of a private_key_jwt client assertion (RFC 7523 §3). Each assertion's jti "
            "is single use until its exp, so a longer lifetime costs only replay-cache rows.",
        recommend="10 minutes (what idpyoidc and most RP libraries sign for); shorter if every client allows it.")
    access_token_alg: str = option("ES256", doc="JWS algorithm of access tokens (one of keys.algorithms).")
    refresh_token_ttl: float = option(
        30 * 86400.0,
        doc="Absolute lifetime of a grant and of every refresh token issued under it, counted from the login; "
            "rotation does not extend it. Refresh tokens are issued only when the granted scope holds "
            "offline_access (OIDC Core §11), never for client_credentials.",
        recommend="As short as the relying parties allow; 30 days or less.")
    refresh_token_reuse_grace: float = option(
        10.0,
        doc="Each refresh rotates the refresh token, and presenting a rotated one again (a replay) is always "
            "detected: logged as refresh_replay with a hash of the grant id and counted in idp_refresh_replays "
            "(RFC 9700 §4.14.2). Public clients (token_endpoint_auth_method none) whose refresh tokens are not "
            "DPoP-bound get no grace: any replay revokes the whole grant with every token issued under it. For "
            "other clients, for this long after a rotation ONE retry of the old token by the same client with the "
            "same DPoP key and the same scope gets the very same response, so a client that lost the answer can "
            "retry; a second replay, a differing one or one after the grace revokes the whole grant.",
        recommend="A few seconds; 0 turns retries off for every client.")
    client_assertion_legacy_audiences: bool = option(
        False,
        doc="Also accept, as a private_key_jwt client assertion's aud, the token endpoint's URL and the URL of the "
            "endpoint receiving it (RFC 7523 §3, OIDC Core §9). Off: the issuer identifier is the only audience, as a "
            "string or a one-element array (draft-ietf-oauth-rfc7523bis §4, FAPI 2.0 Security Profile §5.3.2.1); "
            "an array naming anything else is refused either way. Refused under authorization.profile 'fapi2'.",
        recommend="false; turn on only for relying parties whose library cannot send the issuer, and only until "
                  "they can.")
    client_credentials_scopes: tuple[str, ...] = option(
        (), doc="Scope values confidential clients may request with the client_credentials grant (RFC 6749 §4.4); "
                "such tokens name the client, never a person.")
    introspection_clients: tuple[str, ...] = option(
        (), doc="Clients (resource servers) that may introspect tokens issued to any client; every other client "
                "sees only its own tokens as active (RFC 7662 §4).")


@dataclass(frozen=True, slots=True)
class AuthorizationSettings:
    """``[authorization]``: the authorization endpoint, pushed requests, login interactions, sessions, consent."""

    profile: str = option("", doc="Security profile the provider holds itself to: '' (none beyond the defaults) or "
                                  "'fapi2' (FAPI 2.0 Security Profile: settings that contradict it are refused at "
                                  "start, today tokens.client_assertion_legacy_audiences).",
                          recommend="'fapi2' for FAPI 2.0 deployments.")
    code_ttl: float = option(60.0, doc="Lifetime of an authorization code; it is also single use (RFC 6749 §4.1.2).",
                             recommend="60 seconds or less (FAPI 2.0 Security Profile §5.3.2.1).")
    par_ttl: float = option(60.0, doc="Lifetime of the request_uri of a pushed authorization request (RFC 9126 "
                                      "§2.2 expires_in); it is also single use and bound to its client.")
    require_par: bool = option(False, doc="Refuse authorization requests that were not pushed (RFC 9126 §5) from "
                                          "every client; single clients can require it with "
                                          "require_pushed_authorization_requests.",
                               recommend="true for FAPI 2.0 deployments.")
    interaction_ttl: float = option(900.0, doc="How long a person has, after the authorization request, to log in "
                                               "and consent (the interaction and its browser cookie).")
    session_ttl: float = option(3600.0, doc="Lifetime of the browser session (cookie mynacard_session), counted "
                                            "from the login. Within it, further requests need no new login unless "
                                            "prompt, max_age, acr_values or requested personal claims ask for one "
                                            "(personal claims come only from the login that just happened).",
                                recommend="Minutes on shared devices such as kiosks.")
    consent_ttl: float = option(30 * 86400.0, doc="How long a person's consent to a client (its scope values and "
                                                  "each claim, approved or not) is remembered; prompt=consent asks "
                                                  "again.")
    pairwise_salt: Secret = engine.secret_option(
        doc="Secret salt of the pairwise subject identifiers (OIDC Core §8.1); changing it changes every sub the "
            "relying parties know. Empty: a development salt generated in the data directory.",
        recommend="32 or more random octets from a secret store, the same on every machine; never change it.")
    device_code_ttl: float = option(600.0, doc="Lifetime of a device_code and its user_code (RFC 8628 §3.2 "
                                               "expires_in), whole seconds.")
    kiosk_idle_timeout: float = option(120.0, doc="At a kiosk (idp.oauth.kiosk), how long after the card login the "
                                                  "person has to finish (consent); then the interaction ends and "
                                                  "nothing of the login is shown again (NIST SP 800-63B idle limit, "
                                                  "much shorter on a public kiosk).")
    poll_interval: int = option(5, doc="Seconds a device grant or CIBA client waits between token requests (RFC 8628 "
                                       "§3.2, CIBA Core §7.3 interval); each faster poll answers slow_down and adds 5.")
    kiosk_home: str = option("", doc="At a kiosk, where the card login page goes when it resets (card taken out, or "
                                     "kiosk_idle_timeout without progress or input): an absolute http(s) URL, the "
                                     "kiosk's start page. Empty: back to the client, which hears access_denied.")


@dataclass(frozen=True, slots=True)
class LoginSettings:
    """``[login]``: how people log in (idp.oauth.authenticator)."""

    authenticator: str = option("card", doc="'card': a My Number card through the card agent ([card_login]); "
                                            "'test': a form taking any account id (test mode only).")


@dataclass(frozen=True, slots=True)
class CleanupSettings:
    """``[cleanup]``: removal of expired rows (also ``idp cleanup``)."""

    interval: float = option(300.0, doc="How often each worker deletes expired rows (0: never in process).")
    batch_size: int = option(1000, doc="Rows deleted per transaction, so cleanup never holds long locks.")


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """``[http]``: HTTP behaviour of the metadata endpoints, and the provider's outbound requests."""

    discovery_max_age: float = option(300.0, doc="Cache-Control max-age of the discovery documents.")
    outbound_allow: tuple[str, ...] = option(
        (), doc="Networks (CIDR, such as 10.1.0.0/16) the provider may send requests to although they are not "
                "public: every outbound request (sector_identifier_uri, back-channel logout, the platform operator, "
                "OCSP) is refused when its host resolves to a loopback, private, link-local, multicast, reserved or "
                "cloud-metadata address (servicekit.outbound), except loopback in test mode and these networks. "
                "An IP literal in a refused range is refused already at client registration.",
        recommend="Empty, or only the network of an internal platform operator or OCSP responder.")


@dataclass(frozen=True, slots=True)
class RegistrationSettings:
    """``[registration]``: dynamic client registration (RFC 7591 ``POST /register``) and its management
    (RFC 7592 ``/register/{client_id}`` with the registration access token returned at registration)."""

    mode: str = option("off", doc="'off': no /register (clients come from `idp clients add`); 'token': POST "
                                  "/register needs registration.initial_access_token as a Bearer token (RFC 7591 "
                                  "§3); 'open': anyone may register a client.",
                       recommend="'off' or 'token' in production; 'open' only for tests and conformance runs.")
    initial_access_token: Secret = engine.secret_option(
        doc="The initial access token of mode 'token' (kept secret).",
        recommend="At least 32 random characters, set through MYNACARD_REGISTRATION_INITIAL_ACCESS_TOKEN.")
    fetch_timeout: float = option(5.0, doc="Seconds allowed to fetch a client's sector_identifier_uri at "
                                           "registration (OIDC Dynamic Client Registration §5): a deadline for the "
                                           "whole request (connecting, sending, reading the whole answer), not "
                                           "per read.")


@dataclass(frozen=True, slots=True)
class LogoutSettings:
    """``[logout]``: RP-initiated logout (``/logout``) and back-channel logout tokens."""

    backchannel_timeout: float = option(5.0, doc="Seconds allowed to each client's backchannel_logout_uri (a "
                                                 "deadline for the whole request, not per read); a failure is "
                                                 "logged and does not stop the logout.")
    logout_token_ttl: float = option(120.0, doc="Lifetime of back-channel logout tokens (OIDC Back-Channel "
                                                "Logout §2.4 recommends at most two minutes).")


@dataclass(frozen=True, slots=True)
class LoggingSettings(engine.LoggingSettings):
    """``[logging]``: structured JSON logs on standard error (no personal data, no secrets)."""

    requests: bool = option(True, doc="Log one line per request: method, route template, status, duration "
                                      "(never the query string or the client address).")


@dataclass(frozen=True, slots=True)
class CardLoginSettings:
    """``[card_login]``: logging in with a My Number card through the card agent (idp.endpoints.card_login)."""

    trust_dir: str = option("", doc="Directory of JPKI root certificates (PEM or DER). Only pinned J-LIS roots are "
                                    "admitted (and O=JPKI-TEST roots in test mode). Empty: card login is refused.",
                            recommend="The J-LIS roots of every generation still in use, checked against J-LIS's "
                                      "published fingerprints.")
    crl_dir: str = option("", doc="Directory of CRLs (DER or PEM) of those roots, re-read when its files change. "
                                  "A card whose root has no fresh CRL there cannot log in (fail closed), unless "
                                  "the OCSP responder or the platform operator gives a fresh status. Required "
                                  "unless card_login.ocsp or card_login.platform_url is set.",
                          recommend="Refreshed by a scheduled job well before each CRL's nextUpdate.")
    agent_url: str = option("http://127.0.0.1:47210", doc="Where the login page finds the card agent "
                                                          "(python -m cardreader agent) on the person's machine.")
    challenge_ttl: float = option(120.0, doc="Lifetime of a one-time login challenge; also the oldest login "
                                             "signature accepted.")
    login_ttl: float = option(600.0, doc="How long a card login (its token and cross-device code) stays open, "
                                         "bounded by the interaction's own expiry.")
    ocsp: bool = option(False, doc="Also ask the OCSP responder an authentication certificate names (with a "
                                   "nonce); a fresh answer from it or a fresh CRL suffices, a revocation from "
                                   "either refuses.",
                        recommend="On where the provider is a registered verifier that may query J-LIS's responder.")
    ocsp_timeout: float = option(5.0, doc="Seconds allowed for the OCSP responder (a deadline for the whole "
                                          "request, not per read); on timeout the CRLs decide.")
    platform_url: str = option("", doc="A platform operator's validity-check service (idp.login.platform: JSON "
                                       "request, signed JWS answer), asked about every card certificate whose path "
                                       "is valid; a fresh answer from it or a fresh CRL suffices, a revocation from "
                                       "either refuses. Not together with card_login.ocsp. Empty: not used.",
                                recommend="https; for relying parties that are not registered J-LIS verifiers and so "
                                          "get no CRLs or OCSP.")
    platform_operator: str = option("", doc="The operator id its answers must carry (required with "
                                            "card_login.platform_url).")
    platform_jwks: str = option("", doc="File with the operator's public JWK Set (RS256 or ES256 keys): the only "
                                        "keys its answers may be signed with (required with "
                                        "card_login.platform_url).",
                                recommend="Checked against the key the operator publishes out of band.")
    platform_timeout: float = option(5.0, doc="Seconds allowed for the platform operator (a deadline for the whole "
                                              "request, not per read); on timeout or error the login fails closed "
                                              "unless a fresh CRL decides.")
    revocation_freshness: float = option(
        300.0,
        doc="How long a platform operator's answer or an OCSP verdict is relied on after the status was established "
            "(on top of the limits the answer states), and so how long it is cached in the database, shared by "
            "every worker.",
        recommend="Minutes: the longer, the later a revocation takes effect.")
    crl_index_dir: str = option(
        "", doc="Directory of the serial indexes of the CRLs of card_login.crl_dir (15 octets per revoked serial, "
                "built once per CRL and memory-mapped by every worker of the host). Empty: '.index' inside "
                "card_login.crl_dir; if it cannot be written each worker keeps its own index in memory.",
        recommend="A local directory writable by the service user only (an index is trusted once its digest "
                  "checks).")


@dataclass(frozen=True, slots=True)
class CredentialSettings:
    """``[credentials]``: issuing SD-JWT VCs over OID4VCI 1.0 (idp.vci), their status lists and revocation."""

    display_name_ja: str = option("マイナンバーカード ID", doc="Issuer name shown by wallets (Japanese).")
    display_name_en: str = option("mynacard-id", doc="Issuer name shown by wallets (English).")
    ca_certificates: str = option(
        "", doc="PEM file of the issuing CA certificate that certifies the credential signing keys, followed by its "
                "intermediates (not the root: HAIP 1.0 puts no trust anchor in x5c). Empty: a development chain "
                "(O=... TEST root, accepted by verifiers in test mode only) is generated in the data directory.",
        recommend="A CA of your own PKI whose root verifiers pin.")
    ca_key: str = option("", doc="PEM file of that issuing CA's private key (P-256 or RSA); it signs one short "
                                 "certificate per credential signing key, at the key's creation.",
                         recommend="Readable by the service user only; an issuing CA dedicated to this service.")
    key_backend: str = option("", doc="Where credential signing keys live: 'software' or 'pkcs11' (the [keys] "
                                      "token). Empty: the same as keys.backend.")
    key_rotation_interval: float = option(90 * 86400.0, doc="How long a credential signing key signs before its "
                                                            "successor takes over.")
    key_publish_lead: float = option(86400.0, doc="How long a new credential signing key is in the JWT VC Issuer "
                                                  "Metadata before it signs.")
    age_lifetime: float = option(365 * 86400.0, doc="Lifetime of an age credential, before the caps (the signing "
                                                    "certificate's notAfter; the next birthday that changes an "
                                                    "answer).")
    basic_lifetime: float = option(30 * 86400.0, doc="Lifetime of a basic facts credential before the certificate "
                                                     "cap (addresses change).")
    batch_size: int = option(10, doc="Most credentials (each bound to its own key) one Credential Request may ask "
                                     "for (batch_credential_issuance.batch_size).")
    nonce_ttl: float = option(300.0, doc="Lifetime of a c_nonce from the Nonce Endpoint (single use).")
    proof_max_age: float = option(300.0, doc="Oldest key proof accepted (its iat), besides tokens.clock_tolerance.")
    require_dpop: bool = option(True, doc="Credential, deferred and notification requests need a DPoP-bound "
                                          "access token (HAIP 1.0).")
    key_attestations: str = option("optional", doc="'optional': key attestations are checked when the wallet sends "
                                                   "one and roots are configured; 'required': every proof carries "
                                                   "one (advertised as key_attestations_required).")
    key_attestation_roots: str = option("", doc="Directory of wallet-provider root certificates that key "
                                                "attestations chain to (each file is trusted as given).")
    key_storage_levels: tuple[str, ...] = option(
        (), doc="Accepted key_storage levels of key attestations (e.g. iso_18045_high); empty: any.")
    user_authentication_levels: tuple[str, ...] = option(
        (), doc="Accepted user_authentication levels of key attestations; empty: any.")
    issuance_ttl: float = option(900.0, doc="How long the facts a card login gave stay (encrypted) for the credential "
                                            "request after the login; deleted once issued or after this.")
    deferred_ttl: float = option(86400.0, doc="How long a deferred issuance waits for revocation data before it is "
                                              "dropped (facts deleted, credential_request_denied).")
    deferred_interval: float = option(30.0, doc="The interval a deferred response asks the wallet to wait.")
    response_ttl: float = option(600.0, doc="How long an issued response is kept (encrypted) so that a wallet that "
                                            "lost it can repeat the same request and get the same credentials; a "
                                            "credential_accepted notification deletes it at once.")
    pre_authorized_code_ttl: float = option(300.0, doc="Lifetime of a pre-authorized code and its offer (single use).")
    tx_code_length: int = option(6, doc="Digits of the Transaction Code shown on the PC for a pre-authorized code.")
    tx_code_attempts: int = option(3, doc="Wrong Transaction Codes after which the pre-authorized code is dead.")
    status_list_size: int = option(1 << 20, doc="Entries of one Token Status List (2 bits each; a new list is started "
                                                "when one is half full, so that indices stay random).")
    status_list_ttl: float = option(300.0, doc="ttl of Status List Tokens: how long relying parties may cache them; "
                                               "also how long a status change may take to be seen.")
    status_list_token_lifetime: float = option(86400.0, doc="exp - iat of Status List Tokens.")
    revocation_check_interval: float = option(300.0, doc="How often each worker re-checks the issued credentials' "
                                                         "signing certificates against the CRLs of card_login.crl_dir "
                                                         "(0: never in process).")
    online_recheck_interval: float = option(
        3600.0, doc="How often the certificate behind live credentials is asked about again at the online revocation "
                    "sources of card_login (card_login.ocsp, card_login.platform_url), by the job above. A revocation "
                    "a source reports turns the credentials INVALID within online_recheck_interval + "
                    "revocation_check_interval (idp.vci.watch).",
        recommend="Minutes to an hour: each live certificate costs one request per interval.")
    admin_token: Secret = engine.secret_option(
        doc="Bearer token of the admin API (POST /admin/credentials/status). Empty: the API is off.",
        recommend="At least 32 random characters from a secret store.")
    test_pause: str = option("", doc="Test mode only: 'before_commit' or 'after_commit' makes the credential "
                                     "endpoint log test_pause and sleep there (crash tests).")


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """``[audit]``: the audit trail of security events (idp.storage.audit; ``idp audit export|verify``)."""

    retention: float = option(400 * 86400.0, doc="How long audit entries are kept; the cleanup job deletes older "
                                                 "ones and keeps the chain verifiable from the last deleted entry's "
                                                 "hash (0: kept for ever).",
                              recommend="What your audit policy requires; export to long-term storage first.")
    hmac_keys: Secret = engine.secret_option(
        doc="HMAC keys of the hash chain, at least 32 characters each, separated by commas; the first "
            "authenticates new entries, all verify. Empty: plain SHA-256, which someone able to write the "
            "database can recompute.",
        recommend="Set through MYNACARD_AUDIT_HMAC_KEYS from a secret store the database administrators cannot "
                  "read.")
    unkeyed_until: int = option(0, doc="The last entry appended before audit.hmac_keys was set: older entries "
                                       "may lack a key, newer ones may not.")
    reference_key: Secret = engine.secret_option(
        doc="Key of the pseudonymous account references in audit entries (never the account id or a sub). "
            "Empty: a development key generated in the data directory.",
        recommend="32 or more random octets from a secret store, the same on every machine; never change it "
                  "(references before and after would not match).")


@dataclass(frozen=True, slots=True)
class SigningSettings:
    """``[signing]``: signing with the card for a business (idp.sign)."""

    keep_certificates: bool = option(
        False, doc="Put the raw signing certificate into the verification record the business keeps. Only for a "
                   "deployment that is a platform operator or certified verifier: a service provider may not keep "
                   "raw certificate data (the record otherwise names the certificate by issuer, serial and SHA-256).",
        recommend="false, unless this deployment is a platform operator or a certified verifier.")
    request_ttl: float = option(600.0, doc="How long a signing request waits for the person's consent and card.")
    max_documents: int = option(
        MAX_DOCUMENTS, doc=f"Most documents one signing request may list (1-{MAX_DOCUMENTS}: the card agent shows "
                           "them all on its PIN pad and signs them in one card session).")
    max_label_chars: int = option(
        MAX_LABEL_CHARS, doc=f"Longest document label, in characters (1-{MAX_LABEL_CHARS}): labels are shown on the "
                             "signing consent page and the card agent's PIN pad.")


@dataclass(frozen=True, slots=True)
class Settings(engine.DataLocation):
    """All settings. Top-level options first, then one section per table; ``data_path`` and ``database_url``
    from :class:`~servicekit.settings.DataLocation`."""

    SQLITE_FILE = "idp.sqlite3"
    SQLITE_SCHEME = "sqlite"
    SCHEME_ALIASES = _SCHEME_ALIASES

    issuer: str = option("http://127.0.0.1:8000",
                         doc="Issuer identifier (OIDC Discovery §2): scheme, host and port only, no path.",
                         recommend="An https URL; http is accepted for loopback hosts and, in test mode, "
                                   "for others.")
    data_dir: str = option("var", doc="Directory for the embedded SQLite database and the development KEK.")
    test_mode: bool = option(False, doc="Test mode: accepts test trust roots (O=JPKI-TEST), the test authenticator "
                                        "and http issuers.",
                             recommend="Never in production.")
    test_clock_offset_file: str = option("", doc="Test mode only: a file holding seconds added to the provider's "
                                                 "clock, re-read when it changes (python -m conformance faults steps "
                                                 "the clock with it; read by idp.runtime.utcnow).",
                                         recommend="Never set in production (refused outside test mode).")
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    keys: KeySettings = field(default_factory=KeySettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    authorization: AuthorizationSettings = field(default_factory=AuthorizationSettings)
    login: LoginSettings = field(default_factory=LoginSettings)
    cleanup: CleanupSettings = field(default_factory=CleanupSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    registration: RegistrationSettings = field(default_factory=RegistrationSettings)
    logout: LogoutSettings = field(default_factory=LogoutSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    card_login: CardLoginSettings = field(default_factory=CardLoginSettings)
    credentials: CredentialSettings = field(default_factory=CredentialSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    signing: SigningSettings = field(default_factory=SigningSettings)

    @property
    def key_retention(self) -> float:
        """Seconds a retired key stays published: the longest signed-token lifetime plus the clock tolerance."""
        return max(self.tokens.id_token_ttl, self.tokens.access_token_ttl) + self.tokens.clock_tolerance


def outbound_policy(settings: Settings) -> AddressPolicy:
    """Where the provider's outbound requests may go (:mod:`servicekit.outbound`): public addresses, loopback in
    test mode, and the networks of ``http.outbound_allow``."""
    return AddressPolicy.from_settings(test_mode=settings.test_mode, allow=settings.http.outbound_allow)


def check(settings: Settings) -> list[str]:
    """Every problem of ``settings`` (empty when valid)."""
    problems: list[str] = []
    issuer = urlsplit(settings.issuer)
    if issuer.scheme not in ("https", "http") or not issuer.hostname:
        problems.append("issuer: must be an absolute https URL")
    elif issuer.path or issuer.query or issuer.fragment or issuer.username or issuer.password:
        problems.append("issuer: scheme, host and port only (no path, query, fragment or user)")
    elif issuer.scheme == "http" and not is_loopback(issuer.hostname) and not settings.test_mode:
        problems.append("issuer: http is allowed only for loopback hosts or in test mode")
    problems.extend(settings.server.problems())
    if settings.test_clock_offset_file and not settings.test_mode:
        problems.append("test_clock_offset_file: test mode only")
    if settings.database_url.partition("://")[0] not in _DATABASE_SCHEMES:
        problems.append(f"database.url: the scheme must be one of {', '.join(_DATABASE_SCHEMES)}")
    if not 1 <= settings.database.pool_size <= 1000:
        problems.append("database.pool_size: 1 to 1000")
    if not 0 <= settings.database.client_cache_seconds <= 3600:
        problems.append("database.client_cache_seconds: 0 to 3600")
    keys = settings.keys
    unknown = [a for a in keys.algorithms if a not in SIGNING_ALGORITHMS]
    if unknown or "ES256" not in keys.algorithms or len(set(keys.algorithms)) != len(keys.algorithms):
        problems.append(f"keys.algorithms: distinct values from {', '.join(SIGNING_ALGORITHMS)}, including ES256")
    if keys.backend not in ("software", "pkcs11"):
        problems.append("keys.backend: 'software' or 'pkcs11'")
    if keys.backend == "pkcs11" and not (keys.pkcs11_token_label and keys.pkcs11_pin):
        problems.append("keys.pkcs11_token_label and keys.pkcs11_pin: required by the pkcs11 backend")
    problems.extend(keys.kek_problems())
    for name in ("rotation_interval", "publish_lead", "cache_ttl"):
        if getattr(keys, name) <= 0:
            problems.append(f"keys.{name}: must be positive")
    if keys.publish_lead < keys.jwks_max_age + keys.cache_ttl:
        problems.append("keys.publish_lead: must be at least keys.jwks_max_age + keys.cache_ttl, so relying "
                        "parties and workers see a key before it signs")
    if keys.rotation_interval <= keys.publish_lead:
        problems.append("keys.rotation_interval: must be longer than keys.publish_lead")
    for name in ("id_token_ttl", "access_token_ttl", "refresh_token_ttl", "client_assertion_max_lifetime"):
        if getattr(settings.tokens, name) <= 0:
            problems.append(f"tokens.{name}: must be positive")
    if settings.tokens.access_token_alg not in keys.algorithms:
        problems.append("tokens.access_token_alg: must be one of keys.algorithms")
    if not 0 <= settings.tokens.refresh_token_reuse_grace < settings.tokens.refresh_token_ttl:
        problems.append("tokens.refresh_token_reuse_grace: at least 0 and shorter than tokens.refresh_token_ttl")
    if {"openid", "offline_access"} & set(settings.tokens.client_credentials_scopes):
        problems.append("tokens.client_credentials_scopes: openid and offline_access need a person, not a client")
    authz = settings.authorization
    if authz.profile not in ("", "fapi2"):
        problems.append("authorization.profile: '' or 'fapi2'")
    elif authz.profile == "fapi2" and settings.tokens.client_assertion_legacy_audiences:
        problems.append("authorization.profile 'fapi2' refuses tokens.client_assertion_legacy_audiences: the issuer "
                        "is the only client assertion audience (FAPI 2.0 Security Profile §5.3.2.1)")
    for name in ("code_ttl", "par_ttl", "interaction_ttl", "session_ttl", "consent_ttl", "device_code_ttl",
                 "poll_interval", "kiosk_idle_timeout"):
        if getattr(authz, name) <= 0:
            problems.append(f"authorization.{name}: must be positive")
    if authz.kiosk_home and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s#]*)?", authz.kiosk_home):
        problems.append("authorization.kiosk_home: an absolute http(s) URL without a fragment, or empty")
    if authz.code_ttl > 600 or authz.par_ttl > 600:
        problems.append("authorization.code_ttl and authorization.par_ttl: at most 10 minutes (RFC 6749 §4.1.2)")
    if settings.login.authenticator not in ("card", "test"):
        problems.append("login.authenticator: 'card' or 'test'")
    elif settings.login.authenticator == "test" and not settings.test_mode:
        problems.append("login.authenticator: 'test' is allowed in test mode only")
    allow_problems = allow_list_problems("http.outbound_allow", settings.http.outbound_allow)
    problems.extend(allow_problems)
    card = settings.card_login
    if not card.agent_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        problems.append("card_login.agent_url: the card agent listens on loopback (http://127.0.0.1:PORT)")
    if card.platform_url:
        platform = urlsplit(card.platform_url)
        if platform.scheme not in ("https", "http") or not platform.hostname:
            problems.append("card_login.platform_url: an absolute https URL")
        elif platform.scheme == "http" and not is_loopback(platform.hostname) and not settings.test_mode:
            problems.append("card_login.platform_url: http is allowed only for loopback hosts or in test mode")
        if not (card.platform_operator and card.platform_jwks):
            problems.append("card_login.platform_operator and card_login.platform_jwks: required with "
                            "card_login.platform_url")
        if card.ocsp:
            problems.append("card_login.ocsp and card_login.platform_url: choose one online revocation source")
        if (not allow_problems and platform.hostname
                and outbound_policy(settings).refuses_host(platform.hostname)):
            problems.append("card_login.platform_url: its address is not public; add its network to "
                            "http.outbound_allow")
    for name in ("ocsp_timeout", "platform_timeout", "revocation_freshness"):
        if getattr(card, name) <= 0:
            problems.append(f"card_login.{name}: must be positive")
    if card.challenge_ttl <= 0 or card.login_ttl < card.challenge_ttl:
        problems.append("card_login.challenge_ttl: positive, and card_login.login_ttl at least as long")
    signing = settings.signing
    if not 1 <= signing.max_documents <= MAX_DOCUMENTS:
        problems.append(f"signing.max_documents: 1 to {MAX_DOCUMENTS}")
    if not 1 <= signing.max_label_chars <= MAX_LABEL_CHARS:
        problems.append(f"signing.max_label_chars: 1 to {MAX_LABEL_CHARS}")
    registration = settings.registration
    if registration.mode not in ("off", "token", "open"):
        problems.append("registration.mode: 'off', 'token' or 'open'")
    elif registration.mode == "token" and len(registration.initial_access_token.reveal()) < 32:
        problems.append("registration.initial_access_token: at least 32 characters, required by mode 'token'")
    for name, value in (("registration.fetch_timeout", registration.fetch_timeout),
                        ("logout.backchannel_timeout", settings.logout.backchannel_timeout),
                        ("logout.logout_token_ttl", settings.logout.logout_token_ttl)):
        if value <= 0:
            problems.append(f"{name}: must be positive")
    vc = settings.credentials
    if vc.key_backend not in ("", "software", "pkcs11"):
        problems.append("credentials.key_backend: '', 'software' or 'pkcs11'")
    if (vc.key_backend or keys.backend) == "pkcs11" and not (keys.pkcs11_token_label and keys.pkcs11_pin):
        problems.append("credentials.key_backend pkcs11: keys.pkcs11_token_label and keys.pkcs11_pin are required")
    if bool(vc.ca_certificates) != bool(vc.ca_key):
        problems.append("credentials.ca_certificates and credentials.ca_key: set both or neither")
    if vc.key_rotation_interval <= vc.key_publish_lead or vc.key_publish_lead <= 0:
        problems.append("credentials.key_rotation_interval: longer than credentials.key_publish_lead (positive)")
    for name in ("age_lifetime", "basic_lifetime", "nonce_ttl", "proof_max_age", "issuance_ttl", "deferred_ttl",
                 "deferred_interval", "response_ttl", "pre_authorized_code_ttl", "status_list_ttl",
                 "status_list_token_lifetime"):
        if getattr(vc, name) <= 0:
            problems.append(f"credentials.{name}: must be positive")
    if vc.status_list_token_lifetime < vc.status_list_ttl:
        problems.append("credentials.status_list_token_lifetime: at least credentials.status_list_ttl")
    if not 2 <= vc.batch_size <= 100:
        problems.append("credentials.batch_size: 2 to 100")
    if vc.key_attestations not in ("optional", "required"):
        problems.append("credentials.key_attestations: 'optional' or 'required'")
    elif vc.key_attestations == "required" and not vc.key_attestation_roots:
        problems.append("credentials.key_attestations 'required' needs credentials.key_attestation_roots")
    if not 6 <= vc.tx_code_length <= 12 or not 1 <= vc.tx_code_attempts <= 10:
        problems.append("credentials.tx_code_length: 6 to 12; credentials.tx_code_attempts: 1 to 10")
    if vc.pre_authorized_code_ttl > 900:
        problems.append("credentials.pre_authorized_code_ttl: at most 15 minutes (short-lived, OpenID4VCI §4.1.1)")
    if not 1 << 10 <= vc.status_list_size <= 1 << 24:
        problems.append("credentials.status_list_size: 2^10 to 2^24 entries")
    if vc.admin_token and len(vc.admin_token.reveal()) < 32:
        problems.append("credentials.admin_token: at least 32 characters")
    if vc.test_pause not in ("", "before_commit", "after_commit") or (vc.test_pause and not settings.test_mode):
        problems.append("credentials.test_pause: 'before_commit' or 'after_commit', in test mode only")
    if settings.audit.retention < 0 or settings.audit.unkeyed_until < 0:
        problems.append("audit.retention and audit.unkeyed_until: at least 0")
    if any(len(key.strip()) < 32 for key in settings.audit.hmac_keys.reveal().split(",") if settings.audit.hmac_keys):
        problems.append("audit.hmac_keys: each key at least 32 characters")
    if settings.cleanup.batch_size < 1:
        problems.append("cleanup.batch_size: must be at least 1")
    problems.extend(settings.logging.problems())
    return problems


def unsafe_warnings(settings: Settings, environ: Mapping[str, str] | None = None) -> list[str]:
    """Settings that are fine for development but unsafe in production, and unknown variables."""
    env = os.environ if environ is None else environ
    warnings: list[str] = []
    if urlsplit(settings.issuer).scheme == "http":
        warnings.append(f"issuer {settings.issuer} uses http: for local development only")
    if not settings.authorization.pairwise_salt:
        warnings.append("no pairwise salt configured: subject identifiers depend on a development salt in the data "
                        "directory; set authorization.pairwise_salt, the same on every machine")
    if settings.registration.mode == "open":
        warnings.append("registration.mode is 'open': anyone can register clients at /register")
    if settings.test_mode:
        warnings.append("test mode is on: test trust roots and http issuers are accepted")
    if settings.keys.backend == "software" and not settings.keys.configured:
        warnings.append("no key-encryption key configured: signing keys are encrypted under a development KEK "
                        "stored in the data directory next to them; set keys.keks or keys.kek_file")
    if not settings.credentials.ca_certificates:
        warnings.append("no credential issuer CA configured: credentials are signed under a development chain "
                        "generated in the data directory (accepted by verifiers in test mode only); set "
                        "credentials.ca_certificates and credentials.ca_key")
    warnings.extend(f"unknown environment variable {name} ignored" for name in SCHEMA.unknown_variables(env))
    return warnings


#: The verifier service's variables share our prefix (credentials.verifier.settings.ENV_PREFIX).
SCHEMA: Final = SettingsSchema(Settings, env_prefix=ENV_PREFIX, config_env=CONFIG_ENV, check=check,
                               other_prefixes=("MYNACARD_VERIFIER_",))

#: Settings from the TOML file (``config`` or ``$CONFIG_ENV``) and the environment, validated; every option in
#: documentation order; all options as a Markdown table (``idp config --docs``).
load_settings: Final = SCHEMA.load
iter_options: Final = SCHEMA.iter_options
describe: Final = SCHEMA.describe
