// The reference OpenID provider for `python -m conformance oidc` and `python -m bench oidc`: npm oidc-provider
// configured like ours (PKCE S256 always, PAR, private_key_jwt, DPoP, pairwise subjects, refresh-token rotation,
// revocation, introspection, RP-initiated logout) with the same scripted login contract as our TEST authenticator:
//   GET  /interaction/:uid             an HTML form posting to /interaction/:uid/test-login (or, when only consent
//                                      is missing, a consent form posting to /interaction/:uid/consent)
//   POST /interaction/:uid/test-login  form field account_id (optional acr) completes the login and grants the
//                                      requested scope (a first-party client: no separate consent step)
//   POST /interaction/:uid/consent     grants the requested scope for the logged-in account
//
// Usage: node server.mjs CONFIG.json, where CONFIG is {"issuer", "port", "clients": [client metadata with public
// JWKS]}. The in-memory adapter is used, so state lives in this one process. Stops on SIGTERM.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const pairwiseSalt = randomBytes(32).toString('base64url');

async function signingKey(alg, options = {}) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...options });
  return { ...(await jose.exportJWK(privateKey)), alg, use: 'sig', kid: `${alg}-${randomBytes(6).toString('hex')}` };
}

function html(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><main><h1>${title}</h1>${body}</main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantRequested(provider, details, accountId) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  if (details.params.claims) {
    const claims = JSON.parse(details.params.claims);
    grant.addOIDCClaims(Object.keys({ ...claims.id_token, ...claims.userinfo }));
  }
  return grant.save();
}

const provider = new Provider(config.issuer, {
  clients: config.clients,
  jwks: { keys: [await signingKey('ES256'), await signingKey('RS256', { modulusLength: 2048 })] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access'],
  claims: { openid: ['sub'] },
  subjectTypes: ['public', 'pairwise'],
  pairwiseIdentifier: async (ctx, accountId, client) => createHash('sha256')
    .update(`${client.sectorIdentifier}\0${accountId}\0${pairwiseSalt}`).digest('base64url'),
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: true },
    dPoP: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    claimsParameter: { enabled: true },
  },
  clientAuthMethods: ['private_key_jwt', 'client_secret_basic', 'none'],
  enabledJWA: {
    clientAuthSigningAlgValues: ['ES256', 'PS256', 'RS256', 'EdDSA'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'RS256', 'EdDSA'],
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  responseTypes: ['code'],
  clientDefaults: { id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code', 'refresh_token'] },
  clockTolerance: 15,
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = html('Error', `<pre>${String(out.error)}: ${String(out.error_description ?? '')}</pre>`);
  },
});
provider.proxy = false;

provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)(?:\/(test-login|consent))?$/.exec(ctx.path);
  if (!match) return next();
  const [, uid, action] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  if (ctx.method === 'GET' && !action) {
    ctx.type = 'html';
    ctx.body = details.prompt.name === 'login'
      ? html('Sign in (test authenticator)', `<form method="post" action="/interaction/${uid}/test-login">`
        + '<label>Account <input name="account_id" required></label><button type="submit">Sign in</button></form>')
      : html('Consent', `<form method="post" action="/interaction/${uid}/consent"><p>${details.params.scope}</p>`
        + '<button type="submit" name="approve" value="yes">Allow</button></form>');
    return undefined;
  }
  if (ctx.method !== 'POST' || !action) ctx.throw(405);
  const form = await readForm(ctx.req);
  const accountId = action === 'test-login' ? form.get('account_id') : details.session?.accountId;
  if (!accountId) ctx.throw(400, 'account_id is required');
  const result = { consent: { grantId: await grantRequested(provider, details, accountId) } };
  if (action === 'test-login') {
    result.login = { accountId, acr: form.get('acr') || 'urn:mynacard:acr:test', amr: ['test'] };
  }
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  return undefined;
});

const server = provider.listen(config.port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
