// Credentials changing under a running match. The API key is rotated (new key in Key Vault, old key revoked
// at TomTom): the client's 401 handling re-reads the key and carries the match to completion with no help.
// TomTom revokes the bearer tokens it issued: the app's managed identity cannot get another one (the
// platform serves its cached token, as Azure's does), so the match fails at once with the typed error and
// the remedy, and no refused request is sent twice.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  type CompactMatchStatus,
  readOutbox,
  readOutboxJson,
  runDocuments,
  simulatorAdmin,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../harness.js';

// A slower clock than the other files, so "while the job runs" lasts seconds: a GEM job is at least six
// virtual minutes (three real seconds), and polls are at most one virtual minute apart.
const app = useApp({
  name: 'credentials',
  timeScale: 120,
  // No sweep: its inventory refresh would add TomTom calls of its own to the request log read below.
  env: {
    MONITOR_INITIAL_INTERVAL_SECONDS: '20',
    MONITOR_MAX_INTERVAL_SECONDS: '60',
    SWEEP_SCHEDULE: '0 0 0 1 1 *',
  },
});

const runningJob = (s: CompactMatchStatus) =>
  s.phase === 'monitoring' &&
  s.jobId !== null &&
  (s.gemStatus === 'REQUESTED' || s.gemStatus === 'IN_PROGRESS');

describe('credentials changing mid-run', () => {
  it('completes when the API key is rotated in Key Vault and the old key is revoked', async () => {
    const admin = simulatorAdmin(app);
    const oldKey = app.stack.info.apiKey;
    const newKey = `rotated-${randomBytes(16).toString('hex')}`;
    const upload = await uploadInbox(
      app,
      'rotation.parquet',
      roadMatchingSample('valid', { rows: 30, seed: 32 }),
    );
    await waitForMatch(app, upload.matchId, { until: runningJob });

    await admin.addKey(newKey, ['pdg', 'gem']);
    app.stack.keyVault.setSecret(app.stack.info.apiKeySecretName, newKey);
    const revokedAt = new Date().toISOString();
    await admin.revokeKey(oldKey);

    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed', outcome: 'succeeded' });
    expect(await readOutbox(app, runDocuments('rotation.parquet', upload.matchId).results)).toBeDefined();

    const after = (await admin.requests()).recent.filter((r) => r.time >= revokedAt);
    const oldPrefix = `${oldKey.slice(0, 4)}…`;
    const newPrefix = `${newKey.slice(0, 4)}…`;
    expect(oldPrefix).not.toBe(newPrefix);
    // The old key was tried and refused once, then the new key (read again from Key Vault) did the rest.
    const refused = after.findIndex((r) => r.status === 401 && r.apiKey?.startsWith(oldPrefix));
    expect(refused, 'the revoked key was refused').toBeGreaterThanOrEqual(0);
    const later = after.slice(refused + 1).filter((r) => r.apiKey !== undefined);
    expect(later.some((r) => r.status === 200 && r.apiKey!.startsWith(newPrefix))).toBe(true);
    expect(later.at(-1)!.apiKey!.startsWith(newPrefix), 'the last TomTom call used the new key').toBe(true);
  });

  // Last in this file: the app's token stays revoked at TomTom afterwards.
  it('fails with what clears it when TomTom refuses the managed-identity token the platform keeps serving', async () => {
    const admin = simulatorAdmin(app);
    const upload = await uploadInbox(
      app,
      'tokens.parquet',
      roadMatchingSample('valid', { rows: 30, seed: 31 }),
    );
    await waitForMatch(app, upload.matchId, { until: runningJob });

    const expiredAt = new Date().toISOString();
    await admin.action({ action: 'expire-tokens' });
    const status = await waitForMatch(app, upload.matchId);
    expect(status).toMatchObject({ runtimeStatus: 'Failed', phase: 'failed' });
    const error = await readOutboxJson<{ outcome: string; message: string }>(
      app,
      runDocuments('tokens.parquet', upload.matchId).error,
    );
    expect(error?.outcome).toBe('failed');
    expect(error?.message).toMatch(/refused the bearer token as expired/);
    expect(error?.message).toMatch(/up to about 24 hours/);
    expect(error?.message).toMatch(/AZURE_CLIENT_ID/);

    // One refused request per poll (the monitor gives up after three permanent errors), none resent.
    const after = (await admin.requests()).recent.filter((r) => r.time >= expiredAt);
    const refused = after.filter((r) => r.status === 401);
    expect(refused.map((r) => r.route)).toEqual(['GET /jobs/{id}', 'GET /jobs/{id}', 'GET /jobs/{id}']);
  });
});
