// The results page in a real browser (Debian's Chromium through playwright-core), against an app of its own at
// time scale 600 whose GEM jobs run at least three virtual hours (18 s here): a person opens /api/ui/, enters
// the function key (a wrong one first), watches a running match's progress move, opens it once it completed
// and finds its map holding every road of the input and its histogram holding the numbers the API gives
// (which agree with GEM's own ratios in the summary), clicks a road for its GERS id, downloads its results,
// opens an invalid upload and reads the rows of its validation report, and opens the API explorer. Throughout,
// the page's Content-Security-Policy refuses nothing, the page throws nothing, and the key is in no URL.
// Screenshots of each view go to .local/screenshots/.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../local/standins/samples.js';
import {
  api,
  type JsonBody,
  readOutbox,
  readOutboxJson,
  runDocuments,
  startApp,
  type TestApp,
  type Uploaded,
  uploadInbox,
  waitForMatch,
} from '../e2e/harness.js';
import { type KnownSecret, SECRET_SHAPES, scan, stackSecrets } from '../e2e/load/secretScan.js';
import { type Browser, chromiumPath, openBrowser, warnNoBrowser } from './browser.js';

const executable = chromiumPath();
if (!executable) warnNoBrowser();

const ROADS = 300;

describe.skipIf(!executable)('the results page in Chromium', () => {
  let app: TestApp;
  let browser: Browser;
  let valid: Uploaded;
  let invalid: Uploaded;

  beforeAll(async () => {
    app = await startApp({
      name: 'browser',
      timeScale: 600,
      jobDurations: { queuedMs: 2 * 60_000, minRunningMs: 3 * 3600_000 },
    });
    browser = await openBrowser(executable!);
    valid = await uploadInbox(
      app,
      'page/roads.parquet',
      roadMatchingSample('valid', { rows: ROADS, seed: 31 }),
    );
    invalid = await uploadInbox(
      app,
      'page/bad.parquet',
      roadMatchingSample('duplicate-ids', { rows: 40, seed: 32 }),
    );
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  const page = () => browser.page;

  it('asks for the function key, refuses a wrong one and opens the list with the right one', async () => {
    await page().goto(`${app.baseUrl}/api/ui/`);
    await page().locator('#function-key').fill('not-the-key');
    await page().locator('.key-form button[type=submit]').click();
    await page().locator('.key-form .message', { hasText: 'refused' }).waitFor();
    await browser.screenshot('1-key');
    await page().locator('#function-key').fill(app.keys.functionKey);
    await page().locator('.key-form button[type=submit]').click();
    await page().locator('table.matches').waitFor();
    expect(await page().evaluate(() => sessionStorage.getItem('gemflow.functionKey'))).toBe(
      app.keys.functionKey,
    );
  });

  it("shows a running match's progress updating", async () => {
    const row = page().locator(`tr[data-match="${valid.matchId}"]`);
    await row.waitFor({ timeout: 30_000 });
    const seen = new Set<string>();
    const deadline = Date.now() + 40_000;
    while (seen.size < 3 && Date.now() < deadline) {
      const status = await row.getAttribute('data-runtime-status');
      if (status === 'Running')
        seen.add(
          `${await row.locator('.percent').textContent()} ${await row.locator('.progress-line').textContent()}`,
        );
      if (status === 'Completed') break;
      await page().waitForTimeout(500);
    }
    expect(seen.size, `progress seen: ${[...seen].join(' | ')}`).toBeGreaterThanOrEqual(3);
    expect([...seen].some((text) => /monitoring/.test(text))).toBe(true);
    await browser.screenshot('2-list-running');
  }, 60_000);

  it('opens the completed match: the map has every road and the histogram the API numbers', async () => {
    await waitForMatch(app, valid.matchId, { timeoutMs: 90_000 });
    await page()
      .locator(`a[href="#/match/${encodeURIComponent(valid.matchId)}"]`)
      .first()
      .click();
    await page().locator('.match-header[data-runtime-status="Completed"]').waitFor({ timeout: 30_000 });
    const map = page().locator('.map[data-features]');
    await map.waitFor({ timeout: 30_000 });

    const answer = await api(app).get(`/api/matches/${valid.matchId}/map`);
    expect(answer.status).toBe(200);
    const data: JsonBody = answer.body;
    expect(data.total).toBe(ROADS);
    expect(data.features).toHaveLength(ROADS);
    expect(Number(await map.getAttribute('data-features'))).toBe(ROADS);
    expect(await map.getAttribute('data-renderer')).toBe('svg');
    expect(await page().locator('.map path.leaflet-interactive').count()).toBe(ROADS);

    const buckets = await page()
      .locator('rect.bucket')
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('data-value'))));
    expect(buckets).toEqual(data.statistics.histogram.counts);
    const kinds = await page()
      .locator('svg.kinds rect.bar')
      .evaluateAll((rects) =>
        Object.fromEntries(
          rects.map((r) => [r.getAttribute('data-key'), Number(r.getAttribute('data-value'))]),
        ),
      );
    expect(kinds).toEqual({
      full: data.statistics.full,
      partial: data.statistics.partial,
      unmatched: data.statistics.unmatched,
    });
    expect(buckets.reduce((a, b) => a + b, 0)).toBe(data.statistics.full + data.statistics.partial);

    // GEM's own ratios (the simulator's, from its outcome per road) agree with the counts read from lr_id.
    const summary = await readOutboxJson<JsonBody>(app, runDocuments(valid.name, valid.matchId).summary);
    const ratio = (n: number) => Math.round((n * 10_000) / ROADS) / 10_000;
    expect(ratio(data.statistics.full)).toBe(summary.statistics.roads_fully_matched_ratio);
    expect(ratio(data.statistics.full + data.statistics.partial)).toBe(
      summary.statistics.roads_matched_ratio,
    );
    await browser.screenshot('3-match-completed');
  }, 150_000);

  it('shows the GERS id and confidence of a road that is clicked', async () => {
    const data: JsonBody = (await api(app).get(`/api/matches/${valid.matchId}/map`)).body;
    const matched = data.features.findIndex((f: JsonBody) => f.properties.gers);
    expect(matched, 'a matched road on the map').toBeGreaterThanOrEqual(0);
    await page().locator('.map path.leaflet-interactive').nth(matched).click({ force: true });
    const popup = page().locator('.road-popup');
    await popup.waitFor();
    const index = Number(await popup.getAttribute('data-index'));
    const feature = data.features.find((f: JsonBody) => f.properties.index === index);
    expect(await popup.locator('.gers').textContent()).toBe(feature.properties.gers ?? '—');
    expect(await popup.locator('.confidence').textContent()).toBe(
      feature.properties.confidence === null ? '—' : String(feature.properties.confidence),
    );
    await browser.screenshot('4-road-clicked');
  });

  it('downloads the results through the API, byte for byte the outbox document', async () => {
    const download = page().waitForEvent('download');
    await page().locator('button.download[data-document="results"]').click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('roads.results.parquet');
    const stream = await file.createReadStream();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const expected = await readOutbox(app, runDocuments(valid.name, valid.matchId).results);
    expect(Buffer.concat(chunks).equals(expected!)).toBe(true);
  });

  it('opens an invalid upload and shows the rows of its validation report', async () => {
    await waitForMatch(app, invalid.matchId);
    await page().goto(`${app.baseUrl}/api/ui/#/match/${encodeURIComponent(invalid.matchId)}`);
    const rows = page().locator('table.problems tbody tr');
    await rows.first().waitFor({ timeout: 30_000 });
    const report = await readOutboxJson<JsonBody>(
      app,
      runDocuments(invalid.name, invalid.matchId).validationReport,
    );
    expect(report.problems.length).toBeGreaterThan(0);
    expect(await rows.count()).toBe(report.problems.length);
    const shown = await rows.evaluateAll((trs) =>
      trs.map((tr) => ({ rule: tr.getAttribute('data-rule'), row: tr.getAttribute('data-row') })),
    );
    expect(shown).toEqual(report.problems.map((p: JsonBody) => ({ rule: p.rule, row: String(p.row ?? '') })));
    expect(await page().locator('.timeline [data-phase="validating"]').getAttribute('data-state')).toBe(
      'failed',
    );
    await browser.screenshot('5-validation-report');
  });

  it('opens the API explorer over the OpenAPI document', async () => {
    await page().locator('nav.top a[href="#/api"]').click();
    await page().locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
    expect(await page().locator('.swagger-ui .opblock').count()).toBeGreaterThanOrEqual(10);
    await browser.screenshot('6-api-explorer');
  });

  it('met no Content-Security-Policy refusal or page error, and never put the key in a URL', () => {
    expect(browser.problems).toEqual([]);
    expect(browser.requests.filter((url) => url.includes(app.keys.functionKey))).toEqual([]);
    expect(browser.requests.some((url) => url.includes('/api/matches/'))).toBe(true);
  });

  it('put no secret in any response the page received: HTML, scripts, styles and every API answer', async () => {
    await browser.settled();
    const responses = browser.responses;
    const urls = responses.map((r) => r.source);
    // The scan covered what the page is made of and the data it read.
    expect(
      urls.some((u) => /^200 .*\/api\/ui\/$/.test(u)),
      urls.join('\n'),
    ).toBe(true);
    expect(urls.some((u) => /^200 .*\/api\/ui\/assets\/main-[^/]+\.js$/.test(u))).toBe(true);
    expect(urls.some((u) => /^200 .*\/api\/matches\/[^/]+\/map$/.test(u))).toBe(true);
    expect(urls.some((u) => /^200 .*\/api\/openapi\.json$/.test(u))).toBe(true);
    expect(urls.some((u) => /^401 /.test(u))).toBe(true);
    const secrets: KnownSecret[] = [
      ...stackSecrets(app),
      // The page sends the function key; no answer may echo it back.
      { name: 'function key', value: app.keys.functionKey },
      { name: 'host master key', value: app.keys.masterKey },
      { name: 'durable extension system key', value: app.keys.systemKey },
    ];
    // A SAS would let the page read storage without the app: none may reach it.
    const shapes = [...SECRET_SHAPES, { name: 'SAS signature', pattern: /[?&]sig=[A-Za-z0-9%+/=]{10,}/ }];
    const findings = scan(responses, secrets, shapes);
    console.log(
      `[secrets] scanned ${responses.length} page responses (${responses.reduce((n, r) => n + r.text.length, 0)} chars) for ${secrets.length} known secrets and ${shapes.length} shapes`,
    );
    expect(findings).toEqual([]);
  });
});
