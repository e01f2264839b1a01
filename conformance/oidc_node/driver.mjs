// openid-client (v6, an OpenID Certified relying party) driven by `python -m conformance oidc` over JSON lines:
// one request per stdin line {"id", "op", ...}, one answer per stdout line {"id", "ok": true, "result"} or
// {"id", "ok": false, "error": {"name", "code", "error", "error_description", "status", "message"}}.
// The Python runner is the browser; this process is the relying party. It keeps, per flow id, what an RP keeps in
// its session (PKCE verifier, state, nonce, max_age, DPoP key), so the checks on the authorization response and
// the ID token (OIDC Core §3.1.3.7, including the signature: enableNonRepudiationChecks) are openid-client's own.
import { createInterface } from 'node:readline';

import * as jose from 'jose';
import * as client from 'openid-client';

const configs = new Map(); // client name -> openid-client Configuration
const flows = new Map(); // flow id -> { client, verifier, state, nonce, maxAge, dpop, jkt }

async function clientAuth(spec) {
  if (spec.auth === 'private_key_jwt') {
    const key = await jose.importJWK(spec.private_jwk, spec.private_jwk.alg);
    return client.PrivateKeyJwt({ key, kid: spec.private_jwk.kid });
  }
  if (spec.auth === 'client_secret_basic') return client.ClientSecretBasic(spec.secret);
  return client.None();
}

function configOf(name) {
  const config = configs.get(name);
  if (!config) throw new Error(`client ${name} is not configured`);
  return config;
}

function flowOf(id) {
  const flow = flows.get(id);
  if (!flow) throw new Error(`flow ${id} is unknown`);
  return flow;
}

function dpopOption(flow, use = true) {
  return use && flow.dpop ? { DPoP: flow.dpop } : undefined;
}

function tokens(response) {
  return {
    access_token: response.access_token,
    token_type: response.token_type,
    expires_in: response.expires_in,
    refresh_token: response.refresh_token,
    id_token: response.id_token,
    scope: response.scope,
    authorization_details: response.authorization_details,
    claims: response.id_token ? response.claims() : undefined,
  };
}

const ops = {
  // {issuer, clients: {name: {client_id, auth, private_jwk?, secret?, redirect_uri}}} -> {metadata}
  async configure({ issuer, clients }) {
    let metadata;
    for (const [name, spec] of Object.entries(clients)) {
      const config = await client.discovery(new URL(issuer), spec.client_id,
        { redirect_uris: [spec.redirect_uri], id_token_signed_response_alg: spec.id_token_alg ?? 'ES256' },
        await clientAuth(spec), { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] });
      configs.set(name, config);
      metadata = config.serverMetadata();
    }
    return { metadata };
  },

  // {client, flow, params, pkce = true, nonce = true, par = false, dpop = false} -> {url, jkt}
  async authorize({ client: name, flow: id, params = {}, pkce = true, nonce = true, par = false, dpop = false }) {
    const config = configOf(name);
    const flow = { client: name, state: client.randomState(), maxAge: params.max_age ? Number(params.max_age) : undefined };
    const request = { scope: 'openid', redirect_uri: config.clientMetadata().redirect_uris[0], ...params, state: flow.state };
    if (pkce) {
      flow.verifier = client.randomPKCECodeVerifier();
      request.code_challenge = await client.calculatePKCECodeChallenge(flow.verifier);
      request.code_challenge_method = 'S256';
    }
    if (nonce) request.nonce = flow.nonce = client.randomNonce();
    if (dpop) {
      const keyPair = await client.randomDPoPKeyPair('ES256');
      flow.dpop = client.getDPoPHandle(config, keyPair);
      flow.jkt = await jose.calculateJwkThumbprint(await jose.exportJWK(keyPair.publicKey));
    }
    flows.set(id, flow);
    const url = par ? await client.buildAuthorizationUrlWithPAR(config, request, dpopOption(flow))
      : client.buildAuthorizationUrl(config, request);
    return { url: url.href, jkt: flow.jkt };
  },

  // {flow, url, client?, code_verifier?} -> tokens; `client` overrides the flow's client (e.g. one holding the
  // wrong key), `code_verifier` the verifier sent (to test the server's PKCE check)
  async callback({ flow: id, url, client: name, code_verifier: verifier }) {
    const flow = flowOf(id);
    const response = await client.authorizationCodeGrant(configOf(name ?? flow.client), new URL(url), {
      pkceCodeVerifier: verifier ?? flow.verifier,
      expectedState: flow.state,
      expectedNonce: flow.nonce,
      idTokenExpected: true,
      maxAge: flow.maxAge,
    }, undefined, dpopOption(flow));
    return tokens(response);
  },

  // {flow, access_token, sub?, dpop = true} -> claims
  async userinfo({ flow: id, access_token: accessToken, sub, dpop = true }) {
    const flow = flowOf(id);
    return client.fetchUserInfo(configOf(flow.client), accessToken, sub ?? client.skipSubjectCheck,
      dpopOption(flow, dpop));
  },

  // {flow, refresh_token, params?, dpop = true} -> tokens
  async refresh({ flow: id, refresh_token: refreshToken, params, dpop = true }) {
    const flow = flowOf(id);
    return tokens(await client.refreshTokenGrant(configOf(flow.client), refreshToken, params, dpopOption(flow, dpop)));
  },

  // {client, token, hint?} -> {}
  async revoke({ client: name, token, hint }) {
    await client.tokenRevocation(configOf(name), token, hint ? { token_type_hint: hint } : undefined);
    return {};
  },

  // {client, token} -> the introspection response
  async introspect({ client: name, token }) {
    return client.tokenIntrospection(configOf(name), token);
  },

  // {client, params} -> {url}
  async end_session_url({ client: name, params }) {
    return { url: client.buildEndSessionUrl(configOf(name), params).href };
  },
};

function describeError(err) {
  const cause = err?.cause && typeof err.cause === 'object' && !Array.isArray(err.cause) ? err.cause : {};
  return {
    name: err?.name,
    code: err?.code,
    error: err?.error ?? cause.error,
    error_description: err?.error_description ?? cause.error_description,
    status: err?.status ?? cause.status ?? err?.response?.status,
    message: String(err?.message ?? err),
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, op, ...args } = JSON.parse(line);
  let answer;
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
    answer = { id, ok: true, result: (await ops[op](args)) ?? {} };
  } catch (err) {
    answer = { id, ok: false, error: describeError(err) };
  }
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}
