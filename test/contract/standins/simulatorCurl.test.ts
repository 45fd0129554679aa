// TomTom's documented request, sent with curl itself against a simulator started here with its own
// self-signed certificate and a locally minted JWKS, so the test checks the wire format a shell user
// sees, independent of Node's HTTP stack.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator } from '../../../local/standins/simulator/index.js';
import type { SimulatorHandle } from '../../../local/standins/simulator/types.js';
import { ensureTls } from '../../../local/standins/tls.js';

const run = promisify(execFile);
const AUD = 'https://gem.core.orbis.tomtom.com';
const API_KEY = 'curl-test-key-0123456789';
const USER = 'c0ffee00-0000-4000-8000-000000000001';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

let dir: string;
let certFile: string;
let sim: SimulatorHandle;
let sign: (claims: JWTPayload) => Promise<string>;

const claims = (over: JWTPayload = {}): JWTPayload => {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: AUD,
    iss: 'https://sts.windows.net/t/',
    iat: now - 5,
    nbf: now - 5,
    exp: now + 3600,
    oid: USER,
    ...over,
  };
};

async function curl(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  const args = ['-sS', '--cacert', certFile, '-w', '\n%{http_code}'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(`${sim.url}${path}`);
  const { stdout } = await run('curl', args);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gem-sim-curl-'));
  const pems = await ensureTls({ dir });
  certFile = pems.certFile;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'curl', alg: 'RS256', use: 'sig' };
  sign = (c) => new SignJWT(c).setProtectedHeader({ alg: 'RS256', kid: 'curl', typ: 'JWT' }).sign(privateKey);
  sim = await startSimulator({
    tls: { cert: pems.cert, key: pems.key },
    clock: { now: () => Date.now(), toRealDelayMs: (v) => v },
    jwks: { keys: [jwk] },
    gemAudience: AUD,
    apiKeys: [{ key: API_KEY, products: ['pdg', 'gem'] }],
    storages: [
      {
        id: 'storage-001',
        name: 'Production Data',
        containerUrl: 'https://127.0.0.1:1/devstoreaccount1/default/',
        blobConnectionString: `DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey=${DEV_KEY};BlobEndpoint=https://127.0.0.1:1/devstoreaccount1;`,
        servicePrincipal: { tenantId: 't', clientId: 'c', clientSecret: 's' },
        allowedObjectIds: [USER],
      },
      {
        id: 'storage-002',
        name: 'Someone else',
        containerUrl: 'https://127.0.0.1:1/other/default/',
        blobConnectionString: `DefaultEndpointsProtocol=https;AccountName=other;AccountKey=${DEV_KEY};BlobEndpoint=https://127.0.0.1:1/other;`,
        servicePrincipal: { tenantId: 't', clientId: 'c', clientSecret: 's' },
        allowedObjectIds: ['somebody-else'],
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

const PATH = '/maps/orbis/platform/private-gateway/storages';

describe('the documented curl request', () => {
  it('lists the caller’s storages with 200', async () => {
    const token = await sign(claims());
    const r = await curl(PATH, { 'tomtom-api-key': API_KEY, Authorization: `Bearer ${token}` });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { storages: { id: string; name: string; createdAt: string }[] };
    expect(body.storages.map((s) => [s.id, s.name])).toEqual([['storage-001', 'Production Data']]);
    expect(body.storages[0]!.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('answers a wrong key with the documented 401 body', async () => {
    const r = await curl(PATH, {
      'tomtom-api-key': 'wrong',
      Authorization: `Bearer ${await sign(claims())}`,
    });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toEqual({
      error: {
        code: 'Unauthorized',
        message:
          'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
      },
    });
  });

  it('answers an expired token with 401 "expired"', async () => {
    const expired = await sign(claims({ iat: 1_700_000_000, nbf: 1_700_000_000, exp: 1_700_003_600 }));
    const r = await curl(PATH, { 'tomtom-api-key': API_KEY, Authorization: `Bearer ${expired}` });
    expect(r.status).toBe(401);
    const body = JSON.parse(r.body) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('Unauthorized');
    expect(body.error.message).toMatch(/^The access token has expired\./);
  });

  it('answers missing headers with 401', async () => {
    const noKey = await curl(PATH, { Authorization: `Bearer ${await sign(claims())}` });
    expect(noKey.status).toBe(401);
    expect(JSON.parse(noKey.body).error.message).toMatch(/invalid subscription key/);
    const noToken = await curl(PATH, { 'tomtom-api-key': API_KEY });
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body).error.message).toMatch(/^The access token is missing\./);
    expect((await curl(PATH, {})).status).toBe(401);
  });

  it('gives the bare wrapped token on the pdg variant of the credentials route', async () => {
    const r = await curl('/maps/orbis/platform/pdg/storages/storage-001/credentials?type=READ_WRITE', {
      'tomtom-api-key': API_KEY,
      Authorization: `Bearer ${await sign(claims())}`,
      'X-Version': '1',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^hvs\.[\w-]+$/);
  });
});
