// openid-client (v6) as the client of the decoupled grants: CIBA (poll and ping) and the device authorization grant
// (RFC 8628), driven over JSON lines like driver.mjs: one request per stdin line {"id", "op", ...}, one answer per
// stdout line {"id", "ok": true, "result"} or {"id", "ok": false, "error": {...}}. Every token endpoint answer's
// `error` is recorded (customFetch), so a test sees the authorization_pending / slow_down openid-client handled.
import * as client from 'openid-client';

import { clientAuth, serve } from './jsonlines.mjs';

const configs = new Map(); // client name -> { config, seen: [token endpoint errors] }
const started = new Map(); // auth_req_id or device_code -> the initiation response

function entryOf(name) {
  const entry = configs.get(name);
  if (!entry) throw new Error(`client ${name} is not configured`);
  return entry;
}

function tokens(response) {
  return {
    access_token: response.access_token,
    token_type: response.token_type,
    id_token: response.id_token,
    refresh_token: response.refresh_token,
    scope: response.scope,
    claims: response.id_token ? response.claims() : undefined,
  };
}

async function poll(name, handle, grant, { interval, timeout = 60 } = {}) {
  const entry = entryOf(name);
  const response = started.get(handle);
  if (!response) throw new Error('unknown handle');
  const asked = interval === undefined ? response : { ...response, interval };
  entry.seen.length = 0;
  const options = { signal: AbortSignal.timeout(timeout * 1000) };
  const result = grant === 'ciba'
    ? await client.pollBackchannelAuthenticationGrant(entry.config, asked, undefined, options)
    : await client.pollDeviceAuthorizationGrant(entry.config, asked, undefined, options);
  return { ...tokens(result), seen: [...entry.seen] };
}

const ops = {
  // {issuer, clients: {name: {client_id, auth, private_jwk?, secret?}}} -> {metadata}
  async configure({ issuer, clients }) {
    let metadata;
    for (const [name, spec] of Object.entries(clients)) {
      const seen = [];
      const config = await client.discovery(new URL(issuer), spec.client_id, { id_token_signed_response_alg: 'ES256' },
        await clientAuth(spec), { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] });
      const tokenEndpoint = config.serverMetadata().token_endpoint;
      config[client.customFetch] = async (url, options) => {
        const response = await fetch(url, options);
        if (String(url) === tokenEndpoint && response.status >= 400) {
          const body = await response.clone().json().catch(() => ({}));
          seen.push(body.error);
        }
        return response;
      };
      configs.set(name, { config, seen });
      metadata = config.serverMetadata();
    }
    return { metadata };
  },

  // {client, params} -> the acknowledgement (CIBA Core §7.3)
  async ciba_start({ client: name, params }) {
    const response = await client.initiateBackchannelAuthentication(entryOf(name).config, params);
    started.set(response.auth_req_id, response);
    return { auth_req_id: response.auth_req_id, expires_in: response.expires_in, interval: response.interval };
  },

  // {client, auth_req_id, interval?, timeout?} -> tokens (openid-client polls until it has them or fails)
  async ciba_poll({ client: name, auth_req_id, ...options }) {
    return poll(name, auth_req_id, 'ciba', options);
  },

  // {client, params} -> the device authorization response (RFC 8628 §3.2)
  async device_start({ client: name, params }) {
    const response = await client.initiateDeviceAuthorization(entryOf(name).config, params);
    started.set(response.device_code, response);
    return { ...response };
  },

  // {client, device_code, interval?, timeout?} -> tokens
  async device_poll({ client: name, device_code, ...options }) {
    return poll(name, device_code, 'device', options);
  },

  // {client} -> the token endpoint errors of the last poll, so far
  async seen({ client: name }) {
    return { seen: [...entryOf(name).seen] };
  },
};

serve(ops, (args) => ({ seen: [...(configs.get(args.client)?.seen ?? [])] }));
