// The two data routes of the results page, against the unmodified app on the local host:
// `GET /api/matches/{id}/outputs/{document}` streams an outbox document through the app (byte for byte, with
// single `Range` parts) and `GET /api/matches/{id}/map` answers the run's roads as GeoJSON. Both take the
// function key (the host's 401 otherwise, as any `authLevel: 'function'` route), every 404 names what is
// missing and where to look, and no answer carries a SAS or a storage URL: the page never talks to storage.
//
// GeoJSON (RFC 7946 §4) has one coordinate reference system, WGS 84 lon/lat (EPSG:4326), and no `crs`
// member; the map's shape is `matchMapResponseSchema` (shared/api/resultSchemas.ts), which the OpenAPI
// document publishes.
import { beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { matchMapResponseSchema } from '../../../shared/api/resultSchemas.js';
import {
  api,
  type JsonBody,
  readOutbox,
  runDocuments,
  type Uploaded,
  uploadInbox,
  useApp,
  waitForMatch,
} from '../../e2e/harness.js';

const ROWS = 120;
// GEM jobs run two virtual hours (12 s at time scale 600), so a match is seen while it monitors.
const app = useApp({
  name: 'results-routes',
  timeScale: 600,
  jobDurations: { queuedMs: 60_000, minRunningMs: 2 * 3600_000 },
});
let valid: Uploaded;
let invalid: Uploaded;
let runningAnswer: { status: number; body: JsonBody };

/** Anything that would let a reader go to storage without the app: a SAS query, an account URL, a key. */
const STORAGE_ACCESS =
  /[?&](sig|sv|se|sp|skoid)=|blob\.core\.windows\.net|127\.0\.0\.1:\d+\/devstoreaccount|AccountKey=/i;

function fetchRoute(
  path: string,
  headers: Record<string, string> = {},
  key: string | null = app.keys.functionKey,
) {
  return fetch(`${app.baseUrl}${path}`, {
    headers: { ...(key ? { 'x-functions-key': key } : {}), ...headers },
  });
}

function expectNoStorageAccess(response: Response, text: string): void {
  const headers = JSON.stringify([...response.headers.entries()]);
  expect(headers).not.toMatch(STORAGE_ACCESS);
  expect(text).not.toMatch(STORAGE_ACCESS);
}

beforeAll(async () => {
  valid = await uploadInbox(
    app,
    'results/roads.parquet',
    roadMatchingSample('valid', { rows: ROWS, seed: 41 }),
  );
  invalid = await uploadInbox(
    app,
    'results/bad.parquet',
    roadMatchingSample('missing-geometry', { rows: 20, seed: 42 }),
  );
  await waitForMatch(app, valid.matchId, { until: (s) => s.phase === 'monitoring', timeoutMs: 60_000 });
  runningAnswer = await api(app).get(`/api/matches/${valid.matchId}/map`);
  await Promise.all([
    waitForMatch(app, valid.matchId, { timeoutMs: 90_000 }),
    waitForMatch(app, invalid.matchId, { timeoutMs: 60_000 }),
  ]);
}, 180_000);

describe('GET /api/matches/{id}/outputs/{document}', () => {
  it('streams the results document byte for byte, as a download named after the input', async () => {
    const response = await fetchRoute(`/api/matches/${valid.matchId}/outputs/results`);
    expect(response.status).toBe(200);
    const bytes = Buffer.from(await response.arrayBuffer());
    const stored = await readOutbox(app, runDocuments(valid.name, valid.matchId).results);
    expect(bytes.equals(stored!)).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="roads.results.parquet"');
    expect(response.headers.get('content-length')).toBe(String(stored!.length));
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    expect(response.headers.get('accept-ranges')).toBe('bytes');
    expectNoStorageAccess(response, bytes.toString('latin1'));
  });

  it('answers one Range part with 206 and Content-Range, and 416 outside the document', async () => {
    const stored = (await readOutbox(app, runDocuments(valid.name, valid.matchId).results))!;
    const part = await fetchRoute(`/api/matches/${valid.matchId}/outputs/results`, { range: 'bytes=4-99' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4-99/${stored.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(stored.subarray(4, 100))).toBe(true);
    const outside = await fetchRoute(`/api/matches/${valid.matchId}/outputs/results`, {
      range: `bytes=${stored.length}-`,
    });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${stored.length}`);
    const bad = await fetchRoute(`/api/matches/${valid.matchId}/outputs/results`, { range: 'bytes=0-1,4-5' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('Range');
  });

  it('serves the summary and the validation report, each with their own content type', async () => {
    const summary = await fetchRoute(`/api/matches/${valid.matchId}/outputs/summary`);
    expect(summary.status).toBe(200);
    expect(summary.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const text = await summary.text();
    expect(JSON.parse(text).instanceId).toBe(valid.matchId);
    expectNoStorageAccess(summary, text);
    const report = await fetchRoute(`/api/matches/${invalid.matchId}/outputs/validationReport`);
    expect(report.status).toBe(200);
    expect(((await report.json()) as JsonBody).problems.length).toBeGreaterThan(0);
  });

  it('names what is missing in every 404', async () => {
    const noResults = await api(app).get(`/api/matches/${invalid.matchId}/outputs/results`);
    expect(noResults.status).toBe(404);
    expect(noResults.body.error.message).toContain(
      `outbox/${runDocuments(invalid.name, invalid.matchId).results}`,
    );
    expect(noResults.body.error.message).toContain('its input failed validation');
    expect(noResults.body.error.message).toContain(
      `/api/matches/${invalid.matchId}/outputs/validationReport`,
    );

    const noError = await api(app).get(`/api/matches/${valid.matchId}/outputs/error`);
    expect(noError.status).toBe(404);
    expect(noError.body.error.message).toBe(
      `match "${valid.matchId}" has no error document (outbox/${runDocuments(valid.name, valid.matchId).error}).`,
    );

    const noDocument = await api(app).get(`/api/matches/${valid.matchId}/outputs/secrets`);
    expect(noDocument.status).toBe(404);
    expect(noDocument.body.error.message).toBe(
      'No document "secrets": a match\'s documents are results, summary, error, validationReport, matched.',
    );

    const noMatch = await api(app).get('/api/matches/match-00000000000000000000000000000000/outputs/results');
    expect(noMatch.status).toBe(404);
    expect(noMatch.body.error.message).toBe('No match "match-00000000000000000000000000000000" exists.');
    const hostile = await api(app).get(`/api/matches/${encodeURIComponent('../../etc')}/outputs/results`);
    expect(hostile.status).toBe(404);
  });

  it('requires the function key', async () => {
    for (const key of [null, 'not-the-key']) {
      const response = await fetchRoute(`/api/matches/${valid.matchId}/outputs/results`, {}, key);
      expect(response.status, String(key)).toBe(401);
      expect(Buffer.from(await response.arrayBuffer()).includes(Buffer.from('PAR1'))).toBe(false);
    }
  });
});

describe('GET /api/matches/{id}/map', () => {
  it('answers 404 saying so while the match has no results yet', () => {
    expect(runningAnswer.status).toBe(404);
    expect(runningAnswer.body.error.message).toMatch(
      new RegExp(`^match "${valid.matchId}" has no results yet: it is Running \\(phase monitoring\\)\\.`),
    );
  });

  it("is GeoJSON in lon/lat with one feature per road of the input, in the input's order", async () => {
    const response = await fetchRoute(`/api/matches/${valid.matchId}/map`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/geo+json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('private, no-store');
    const text = await response.text();
    expectNoStorageAccess(response, text);
    const map = matchMapResponseSchema.parse(JSON.parse(text));
    expect(JSON.parse(text)).not.toHaveProperty('crs');
    expect(map).toMatchObject({ type: 'FeatureCollection', total: ROWS, truncated: false });
    expect(map.features).toHaveLength(ROWS);
    expect(map.features.map((f) => f.properties.index)).toEqual([...Array(ROWS).keys()]);
    for (const feature of map.features) {
      const lines =
        feature.geometry!.type === 'LineString'
          ? [feature.geometry!.coordinates]
          : feature.geometry!.coordinates;
      for (const [lon, lat] of lines.flat() as number[][]) {
        expect(Math.abs(lon!)).toBeLessThanOrEqual(180);
        expect(Math.abs(lat!)).toBeLessThanOrEqual(90);
      }
    }
    const { full, partial, unmatched, histogram } = map.statistics;
    expect(full + partial + unmatched).toBe(ROWS);
    expect(histogram.counts.reduce((a, b) => a + b, 0)).toBe(full + partial);
  });

  it("agrees with GEM's own ratios in the summary", async () => {
    const map = (await api(app).get(`/api/matches/${valid.matchId}/map`)).body;
    const summary = (await api(app).get(`/api/matches/${valid.matchId}/outputs/summary`)).body;
    const ratio = (n: number) => Math.round((n * 10_000) / ROWS) / 10_000;
    expect(ratio(map.statistics.full)).toBe(summary.statistics.roads_fully_matched_ratio);
    expect(ratio(map.statistics.full + map.statistics.partial)).toBe(summary.statistics.roads_matched_ratio);
  });

  it('is bounded by limit, saying truncated and the total, and gzipped when asked', async () => {
    const response = await fetchRoute(`/api/matches/${valid.matchId}/map?limit=7`, {
      'accept-encoding': 'gzip',
    });
    expect(response.status).toBe(200);
    // fetch decodes the body; the header says what the app sent.
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const map: JsonBody = await response.json();
    expect(map.features).toHaveLength(7);
    expect(map).toMatchObject({ truncated: true, total: ROWS });
    expect(map.statistics.roads).toBe(7);
  });

  it('refuses a limit outside 1–20000 naming the field', async () => {
    for (const limit of ['0', '-1', '20001', 'ten', '1.5']) {
      const response = await api(app).get(`/api/matches/${valid.matchId}/map?limit=${limit}`);
      expect(response.status, limit).toBe(400);
      expect(JSON.stringify(response.body), limit).toContain('limit');
    }
  });

  it('names what is missing in every 404, and requires the function key', async () => {
    const invalidMap = await api(app).get(`/api/matches/${invalid.matchId}/map`);
    expect(invalidMap.status).toBe(404);
    expect(invalidMap.body.error.message).toContain('its input failed validation');
    const noMatch = await api(app).get('/api/matches/match-nothing/map');
    expect(noMatch.status).toBe(404);
    expect(noMatch.body.error.message).toBe('No match "match-nothing" exists.');
    const noKey = await fetchRoute(`/api/matches/${valid.matchId}/map`, {}, null);
    expect(noKey.status).toBe(401);
    expect(await noKey.text()).not.toContain('FeatureCollection');
  });
});

describe('GET /api/ui/{*path}, the page itself', () => {
  it('is anonymous, holds no data and carries the Content-Security-Policy', async () => {
    const page = await fetchRoute('/api/ui/', {}, null);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toContain(valid.matchId);
    const script = /src="(\/api\/ui\/assets\/main-[^"]+\.js)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    const asset = await fetchRoute(script!, { 'accept-encoding': 'br' }, null);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-encoding')).toBe('br');
  });

  it('reaches no file outside the page, however the path is spelled', async () => {
    for (const path of [
      'manifest.json',
      '..%2F..%2Fhost.json',
      '%2e%2e/%2e%2e/package.json',
      'assets/..%2f..%2fhost.json',
    ]) {
      const answer = await fetchRoute(`/api/ui/${path}`, {}, null);
      expect([404, 400], path).toContain(answer.status);
      expect(await answer.text(), path).not.toMatch(/"version"|extensionBundle|"dependencies"/);
    }
  });
});
