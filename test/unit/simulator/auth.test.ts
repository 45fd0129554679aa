/**
 * Unit tests of `local/standins/simulator/auth.ts`: API key checks; bearer verification; expire-tokens.
 */
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BearerVerifier,
  checkApiKey,
  createBearerVerifier,
  IAT_BACKDATE_SEC,
  KeyRegistry,
} from '../../../local/standins/simulator/auth.js';
import { INVALID_KEY_MESSAGE } from '../../../local/standins/simulator/responses.js';

const AUD = 'https://gem.core.orbis.tomtom.com';
const NOW = Date.UTC(2026, 2, 1, 12, 0, 0);
const nowSec = Math.floor(NOW / 1000);

let sign: (claims: JWTPayload) => Promise<string>;
let signWithOtherKey: (claims: JWTPayload) => Promise<string>;
let verifier: BearerVerifier;

const claims = (over: JWTPayload = {}): JWTPayload => ({
  aud: AUD,
  iss: 'https://sts.windows.net/tenant-1/',
  iat: nowSec - 60,
  nbf: nowSec - 60,
  exp: nowSec + 3600,
  oid: 'user-a',
  sub: 'user-a',
  ...over,
});

beforeAll(async () => {
  const trusted = await generateKeyPair('RS256', { extractable: true });
  const other = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(trusted.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  sign = (c) => new SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(trusted.privateKey);
  signWithOtherKey = (c) =>
    new SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(other.privateKey);
  verifier = createBearerVerifier({ keys: [jwk] }, AUD);
});

const message = (r: Awaited<ReturnType<BearerVerifier['verify']>>) =>
  r.ok ? 'ok' : (r.response.body as { error: { message: string } }).error.message;

describe('API key checks', () => {
  const keys = new KeyRegistry([
    { key: 'full-key', products: ['pdg', 'gem'] },
    { key: 'pdg-only', products: ['pdg'] },
  ]);

  it('401 with the documented body for missing, unknown and revoked keys', () => {
    const documented = { error: { code: 'Unauthorized', message: INVALID_KEY_MESSAGE } };
    expect(checkApiKey(keys, undefined, 'pdg')).toEqual({ status: 401, body: documented });
    expect(checkApiKey(keys, 'nope', 'gem')).toEqual({ status: 401, body: documented });
    const rotating = new KeyRegistry([{ key: 'old', products: ['gem'] }]);
    expect(checkApiKey(rotating, 'old', 'gem')).toBeNull();
    rotating.revoke('old');
    rotating.add('new', ['gem']);
    expect(checkApiKey(rotating, 'old', 'gem')?.status).toBe(401);
    expect(checkApiKey(rotating, 'new', 'gem')).toBeNull();
  });

  it('403 naming the product when the key lacks it', () => {
    const r = checkApiKey(keys, 'pdg-only', 'gem');
    expect(r?.status).toBe(403);
    expect(r?.body).toMatchObject({ error: { code: 'Forbidden' } });
    expect(JSON.stringify(r?.body)).toContain('not enabled for the Orbis GEM API');
    expect(checkApiKey(keys, 'pdg-only', 'pdg')).toBeNull();
    expect(checkApiKey(keys, 'full-key', 'gem')).toBeNull();
  });
});

describe('bearer verification', () => {
  it('accepts a valid token and returns its oid', async () => {
    const r = await verifier.verify(`Bearer ${await sign(claims())}`, NOW);
    expect(r.ok && r.caller.oid).toBe('user-a');
  });

  it('accepts the audience with a trailing slash', async () => {
    const r = await verifier.verify(`Bearer ${await sign(claims({ aud: `${AUD}/` }))}`, NOW);
    expect(r.ok).toBe(true);
  });

  it('says "expired" for an expired token', async () => {
    const r = await verifier.verify(`Bearer ${await sign(claims({ exp: nowSec - 120 }))}`, NOW);
    expect(r.ok || r.response.status).toBe(401);
    expect(message(r)).toMatch(/^The access token has expired\./);
  });

  it.each([
    [
      'wrong audience',
      async () => `Bearer ${await sign(claims({ aud: 'https://storage.azure.com' }))}`,
      /claim "aud"/,
    ],
    [
      'foreign issuer',
      async () => `Bearer ${await sign(claims({ iss: 'https://evil.example/' }))}`,
      /unexpected issuer/,
    ],
    ['bad signature', async () => `Bearer ${await signWithOtherKey(claims())}`, /signature does not verify/],
    ['garbage', async () => 'Bearer not-a-jwt', /not a well-formed signed JWT/],
    ['wrong scheme', async () => 'Basic dXNlcjpwYXNz', /must be "Bearer <token>"/],
    [
      'no identity',
      async () => `Bearer ${await sign(claims({ oid: undefined, sub: undefined }))}`,
      /no user identity/,
    ],
  ])('says "invalid" for %s', async (_name, header, why) => {
    const r = await verifier.verify(await header(), NOW);
    expect(r.ok || r.response.status).toBe(401);
    expect(message(r)).toMatch(/^The access token is invalid: /);
    expect(message(r)).toMatch(why);
  });

  it('says "missing" without an Authorization header', async () => {
    expect(message(await verifier.verify(undefined, NOW))).toMatch(/^The access token is missing\./);
  });
});

describe('expire-tokens', () => {
  it('expires presented and older tokens, and accepts tokens issued afterwards', async () => {
    const trustedKeyVerifier = verifier;
    trustedKeyVerifier.reset();
    const presented = await sign(claims({ iat: nowSec - 2, uti: 'a' }));
    const older = await sign(claims({ iat: nowSec - IAT_BACKDATE_SEC - 1, uti: 'b' }));
    expect((await trustedKeyVerifier.verify(`Bearer ${presented}`, NOW)).ok).toBe(true);

    trustedKeyVerifier.expireIssuedBefore(NOW);

    expect(message(await trustedKeyVerifier.verify(`Bearer ${presented}`, NOW))).toMatch(/has expired/);
    expect(message(await trustedKeyVerifier.verify(`Bearer ${older}`, NOW))).toMatch(/has expired/);
    // A token fetched right after the action, backdated by its issuer, still works.
    const fresh = await sign(claims({ iat: nowSec - IAT_BACKDATE_SEC, uti: 'c' }));
    expect((await trustedKeyVerifier.verify(`Bearer ${fresh}`, NOW + 10)).ok).toBe(true);

    trustedKeyVerifier.reset();
    expect((await trustedKeyVerifier.verify(`Bearer ${presented}`, NOW)).ok).toBe(true);
  });
});
