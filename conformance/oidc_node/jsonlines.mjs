// What the openid-client drivers (driver.mjs, decoupled.mjs) share: client authentication from a JSON spec, the
// error shape, and the JSON-lines loop (one request per stdin line {"id", "op", ...}, one answer per stdout line
// {"id", "ok": true, "result"} or {"id", "ok": false, "error": {...}}).
import { createInterface } from 'node:readline';

import * as jose from 'jose';
import * as client from 'openid-client';

export async function clientAuth(spec) {
  if (spec.auth === 'private_key_jwt') {
    const key = await jose.importJWK(spec.private_jwk, spec.private_jwk.alg);
    return client.PrivateKeyJwt({ key, kid: spec.private_jwk.kid });
  }
  if (spec.auth === 'client_secret_basic') return client.ClientSecretBasic(spec.secret);
  return client.None();
}

export function describeError(err) {
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

// Answer each stdin line with `ops[op](args)`; `extra(args)` adds members to an error answer.
export async function serve(ops, extra = () => ({})) {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const { id, op, ...args } = JSON.parse(line);
    let answer;
    try {
      if (!Object.hasOwn(ops, op)) throw new Error(`unknown op ${op}`);
      answer = { id, ok: true, result: (await ops[op](args)) ?? {} };
    } catch (err) {
      answer = { id, ok: false, error: { ...describeError(err), ...extra(args) } };
    }
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}
