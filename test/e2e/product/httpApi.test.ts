// The HTTP API as a client sees it: field-level validation, function-key auth, idempotent starts, listing by
// status, cancelling, the storage inventory and the OpenAPI document (health has its own file).
import { beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import {
  api,
  type CompactMatchStatus,
  simulatorAdmin,
  uploadPdgFile,
  useApp,
  waitForMatch,
  waitUntil,
} from '../harness.js';

// A GEM job lasts at least six virtual minutes: three real seconds at this scale, long enough to cancel.
const app = useApp({
  name: 'http-api',
  timeScale: 120,
  env: { MONITOR_INITIAL_INTERVAL_SECONDS: '20', MONITOR_MAX_INTERVAL_SECONDS: '60' },
});

beforeAll(async () => {
  // Matches here start from files already in PDG storage, so no inbox event or sweep starts them first.
  await uploadPdgFile(app, 'api-roads.parquet', roadMatchingSample('valid', { rows: 20, seed: 41 }));
  await uploadPdgFile(app, 'api-cancel.parquet', roadMatchingSample('valid', { rows: 20, seed: 42 }));
});

interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; reason: string }[] };
}

const fieldsOf = (body: ErrorBody) => (body.error.details ?? []).map((d) => d.field);

describe('POST /api/matches validation', () => {
  it.each([
    ['bad JSON', '{"inboxBlob": "roads.parquet",', '(body)'],
    ['both sources', { inboxBlob: 'a.parquet', pdgFilename: 'b.parquet' }, 'source'],
    ['no source', { storageId: 'storage-001' }, 'source'],
    [
      'a malformed overtureRelease',
      { pdgFilename: 'a.parquet', overtureRelease: '2026-01-21' },
      'overtureRelease',
    ],
    [
      'an http callback to another host',
      { pdgFilename: 'a.parquet', callbackUrl: 'http://example.com/hook' },
      'callbackUrl',
    ],
    ['an unknown field', { pdgFilename: 'a.parquet', priority: 'high' }, 'priority'],
  ])('%s → 400 naming the field', async (_case, body, field) => {
    const response = await api(app).request<ErrorBody>('POST', '/api/matches', {
      ...(typeof body === 'string' ? { rawBody: body } : { body }),
    });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('ValidationFailed');
    expect(fieldsOf(response.body)).toEqual([field]);
    expect(response.body.error.message).toContain(field);
  });

  it('an inboxBlob that does not exist → 400 naming inboxBlob', async () => {
    const response = await api(app).post<ErrorBody>('/api/matches', { inboxBlob: 'no-such-file.parquet' });
    expect(response.status).toBe(400);
    expect(fieldsOf(response.body)).toEqual(['inboxBlob']);
    expect(response.body.error.message).toContain('no-such-file.parquet');
  });

  it('without the function key → 401', async () => {
    const client = api(app);
    expect(
      (await client.request('POST', '/api/matches', { body: { pdgFilename: 'a.parquet' }, key: null }))
        .status,
    ).toBe(401);
    expect((await client.request('GET', '/api/matches', { key: null })).status).toBe(401);
    expect((await client.request('GET', '/api/matches', { key: 'not-the-key' })).status).toBe(401);
    expect((await client.request('GET', '/api/storages', { key: null })).status).toBe(401);
  });
});

describe('starting, listing and cancelling matches', () => {
  let completedId: string;

  it('a valid request → 202 with status and cancel URLs; repeating it returns the same match', async () => {
    const client = api(app);
    const first = await client.post('/api/matches', { pdgFilename: 'api-roads.parquet' });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ created: true, id: expect.stringMatching(/^match-[0-9a-f]{32}$/) });
    const id = first.body.id as string;
    expect(first.body.statusUrl).toBe(`${app.baseUrl}/api/matches/${id}`);
    expect(first.body.cancelUrl).toBe(`${app.baseUrl}/api/matches/${id}/cancel`);
    expect(first.headers.get('location')).toBe(first.body.statusUrl);

    const second = await client.post('/api/matches', { pdgFilename: 'api-roads.parquet' });
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ id, created: false });

    const status = await waitForMatch(app, id);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', phase: 'completed', outcome: 'succeeded' });
    completedId = id;
  });

  it('GET /api/matches?status= filters by runtime status', async () => {
    expect(completedId).toBeDefined();
    const client = api(app);
    const completed = await client.get<{ matches: CompactMatchStatus[]; count: number }>(
      '/api/matches?status=Completed',
    );
    expect(completed.status).toBe(200);
    expect(completed.body.matches.map((m) => m.id)).toContain(completedId);
    expect(completed.body.matches.every((m) => m.runtimeStatus === 'Completed')).toBe(true);
    expect(completed.body.count).toBe(completed.body.matches.length);

    const running = await client.get<{ matches: CompactMatchStatus[] }>(
      '/api/matches?status=Running,Pending',
    );
    expect(running.status).toBe(200);
    expect(running.body.matches.map((m) => m.id)).not.toContain(completedId);

    const bad = await client.get<ErrorBody>('/api/matches?status=Finished');
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(['status']);
  });

  it('cancelling a running match → 202 and Terminated; GEM has no cancel, so its job runs on', async () => {
    const client = api(app);
    const started = await client.post('/api/matches', { pdgFilename: 'api-cancel.parquet' });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const running = await waitForMatch(app, id, {
      until: (s) => s.phase === 'monitoring' && s.jobId !== null && s.gemStatus !== 'SUCCESS',
    });
    expect(running.runtimeStatus).toBe('Running');

    const cancel = await client.post(`/api/matches/${id}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body).toMatchObject({ id, cancelled: true });
    expect(cancel.body.note).toContain(`GEM job ${running.jobId}`);
    expect(cancel.body.note).toMatch(/GEM has no cancel endpoint/);

    const terminated = await waitForMatch(app, id);
    expect(terminated.runtimeStatus).toBe('Terminated');
    const job = (await simulatorAdmin(app).jobs()).find((j) => j.job_id === running.jobId);
    expect(job, 'the GEM job still exists').toBeDefined();

    const again = await client.post<ErrorBody>(`/api/matches/${id}/cancel`);
    expect(again.status).toBe(409);
  });

  it('cancelling a finished match → 409; an unknown one → 404', async () => {
    expect(completedId).toBeDefined();
    const client = api(app);
    const finished = await client.post<ErrorBody>(`/api/matches/${completedId}/cancel`);
    expect(finished.status).toBe(409);
    expect(finished.body.error.message).toContain('already finished');
    const unknown = await client.post(`/api/matches/match-${'0'.repeat(32)}/cancel`);
    expect(unknown.status).toBe(404);
  });
});

describe('paging GET /api/matches', () => {
  interface ListPage {
    matches: CompactMatchStatus[];
    count: number;
    continuationToken: string | null;
    window: { createdFrom: string; createdTo: string | null };
  }

  it('pages with a continuation token through the same matches as one page, newest first', async () => {
    const client = api(app);
    const whole = await client.get<ListPage>('/api/matches');
    expect(whole.status).toBe(200);
    expect(whole.body.matches.length).toBeGreaterThanOrEqual(2);
    expect(whole.body.continuationToken).toBeNull();
    expect(Date.parse(whole.body.window.createdFrom)).toBeLessThan(Date.now() - 6 * 86_400_000);
    const times = whole.body.matches.map((m) => Date.parse(m.createdTime));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const paged: string[] = [];
    let token: string | null = null;
    do {
      const query: string = token ? `?top=1&continuationToken=${token}` : '?top=1';
      const page: { status: number; body: ListPage } = await client.get<ListPage>(`/api/matches${query}`);
      expect(page.status).toBe(200);
      expect(page.body.count).toBeLessThanOrEqual(1);
      paged.push(...page.body.matches.map((m) => m.id));
      token = page.body.continuationToken;
    } while (token && paged.length < 100);
    expect(paged).toEqual(whole.body.matches.map((m) => m.id));

    const tampered = await client.get<ErrorBody>('/api/matches?continuationToken=bm90LWEtdG9rZW4');
    expect(tampered.status).toBe(400);
    expect(fieldsOf(tampered.body)).toEqual(['continuationToken']);
  });
});

describe('storages, health and OpenAPI', () => {
  it('GET /api/storages serves the snapshot the sweep took; ?refresh=true reads TomTom again', async () => {
    const client = api(app);
    // The sweep timer (every 15 virtual minutes) refreshes the inventory.
    const snapshot = await waitUntil(
      async () => {
        const response = await client.get('/api/storages');
        return response.status === 200 ? response : undefined;
      },
      'the first storage inventory snapshot',
      30_000,
      250,
    );
    expect(snapshot.body.source).toBe('snapshot');
    expect(snapshot.body.snapshot.storages.map((s: { id: string }) => s.id)).toContain('storage-001');

    const refreshed = await client.get('/api/storages?refresh=true');
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.source).toBe('refreshed');
    expect(refreshed.body.snapshot.storages.map((s: { id: string }) => s.id)).toContain('storage-001');

    // The query the OpenAPI document publishes: `1` means `true`; anything else is a field-level 400.
    const one = await client.get('/api/storages?refresh=1');
    expect(one.status).toBe(200);
    expect(one.body.source).toBe('refreshed');
    const bad = await client.get<ErrorBody>('/api/storages?refresh=yes');
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(['refresh']);
  });

  it('GET /api/openapi.json documents the API', async () => {
    const response = await api(app).request('GET', '/api/openapi.json', { key: null });
    expect(response.status).toBe(200);
    expect(response.body.openapi).toMatch(/^3\./);
    expect(Object.keys(response.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/matches',
        '/api/matches/{id}',
        '/api/matches/{id}/cancel',
        '/api/storages',
      ]),
    );
  });
});
