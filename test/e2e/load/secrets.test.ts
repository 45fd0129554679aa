// Principle 1 end to end: after runs that cover every path (a success with a signed completion callback, a GEM
// job that ends FAILED, an invalid input, and a success after the API key was rotated under the app), nothing
// the app stored or printed holds a secret: not the API keys, not a bearer token, not the PDG service
// principal's secret, not a Vault wrapped token, not the notification signing secret. The app's traces are
// sent to the OTLP collector stand-in during the same runs, and every span (name, attributes, events, status)
// is scanned too, after checking that the spans are there and name their match and GEM job.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CollectedSpan, startOtlpCollector } from '../../../local/standins/otlpCollector.js';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { verifySignature } from '../../../shared/workflow/notify.js';
import {
  adminPost,
  type CompactMatch,
  getMatch,
  instanceWithHistory,
  listInstances,
  type SimulatorRequests,
  simulatorRequests,
  type Upload,
  uploadAll,
  useTestApp,
  waitForTerminal,
} from './helpers.js';
import {
  blobSources,
  fileSources,
  type KnownSecret,
  SECRET_SHAPES,
  scan,
  spanSources,
  stackSecrets,
  type TextSource,
  tableSources,
} from './secretScan.js';

const TIME_SCALE = 600;

// Azure SDK logging at its most verbose, as an operator chasing a problem would set it: every request,
// response and credential step is printed, so the host log is the hardest place to keep secrets out of.
const t = useTestApp('secrets', { timeScale: TIME_SCALE, env: { AZURE_LOG_LEVEL: 'verbose' }, traces: true });
const callbacks: { body: string; signature: string }[] = [];
let receiver: Server;
const outcomes: Record<string, CompactMatch> = {};
let rotatedKey: string;
let requestsAfterRotation: SimulatorRequests;
let secrets: KnownSecret[];
let sources: TextSource[];
let spans: CollectedSpan[];

async function runOne(name: string, bytes: Uint8Array, metadata?: Record<string, string>): Promise<Upload> {
  const [upload] = await uploadAll(t.app, [{ name, bytes, ...(metadata ? { metadata } : {}) }]);
  await waitForTerminal(t.app, [upload!.instanceId], 60_000);
  outcomes[name] = await getMatch(t.app, upload!.instanceId);
  return upload!;
}

beforeAll(async () => {
  const { app } = t;
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      callbacks.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['x-gemflow-signature'] ?? ''),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`;

  // 1. Success, with a completion callback signed with the notification secret.
  await runOne('secrets/ok.parquet', roadMatchingSample('valid', { rows: 30, seed: 7 }), {
    callbackurl: callbackUrl,
  });
  // 2. GEM ends the next job FAILED.
  await adminPost(app, '/faults', { action: 'fail-job' });
  await runOne('secrets/gem-fails.parquet', roadMatchingSample('valid', { rows: 30, seed: 8 }));
  // 3. Invalid input: stopped by validation, a report goes to the outbox.
  await runOne('secrets/invalid.parquet', roadMatchingSample('missing-geometry', { rows: 30, seed: 9 }));
  // 4. The key is rotated under the running app: Key Vault gets the new key, TomTom revokes the old one, so
  //    the app's cached key meets a 401 and it re-reads Key Vault (the recovery path, with its error logging).
  rotatedKey = `gemflow-rotated-${crypto.randomUUID().replaceAll('-', '')}`;
  await adminPost(app, '/keys', { key: rotatedKey, products: ['pdg', 'gem'] });
  app.stack.keyVault.setSecret(app.stack.info.apiKeySecretName, rotatedKey);
  const revoked = await fetch(
    `${app.stack.info.simulatorAdminUrl}/keys/${encodeURIComponent(app.stack.info.apiKey)}`,
    { method: 'DELETE' },
  );
  if (revoked.status !== 204) throw new Error(`revoking the old key: ${revoked.status}`);
  await runOne('secrets/after-rotation.parquet', roadMatchingSample('valid', { rows: 30, seed: 10 }));
  requestsAfterRotation = await simulatorRequests(app);

  spans = await spansOfJobs(Object.values(outcomes));
  const info = app.stack.info;
  secrets = [...stackSecrets(app), { name: 'rotated TomTom API key', value: rotatedKey }];

  // Everything stored or printed: task hub tables, the Durable HTTP API's view (statuses, custom statuses,
  // inputs, outputs, full histories with results), every blob of the app's and the PDG account, the host's
  // state files, and every line the host printed.
  const instances = await listInstances(app);
  const histories = await Promise.all(instances.map((s) => instanceWithHistory(app, s.instanceId)));
  sources = [
    ...(await tableSources(info.storageConnectionString)),
    { source: 'Durable API instance list', text: JSON.stringify(instances) },
    ...histories.map((h) => ({ source: `Durable API history ${h.instanceId}`, text: JSON.stringify(h) })),
    ...(await blobSources(info.storageConnectionString, 'app')),
    ...(await blobSources(info.pdgStorages[0]!.blobConnectionString, 'PDG')),
    ...fileSources(join(info.dir, 'host')),
    { source: 'host log', text: t.lines.join('\n') },
    { source: 'host log (LocalApp.hostLog)', text: app.hostLog.join('\n') },
    ...spanSources(spans),
  ];
  const traces = new Set(spans.map((s) => s.traceId)).size;
  const withMatch = spans.filter((s) => s.attributes[MATCH_ID] !== undefined).length;
  const withJob = spans.filter((s) => s.attributes[JOB_ID] !== undefined).length;
  console.log(
    `[secrets] ${spans.length} spans in ${traces} traces, ${withMatch} naming a match, ${withJob} a GEM job`,
  );
  console.log(
    `[secrets] scanning ${sources.length} sources (${sources.reduce((n, s) => n + s.text.length, 0)} chars) ` +
      `for ${secrets.length} known secrets and ${SECRET_SHAPES.length} secret shapes`,
  );
}, 240_000);

afterAll(async () => {
  receiver?.close();
});

const MATCH_ID = 'gemflow.match.id';
const JOB_ID = 'gemflow.gem.job_id';

/**
 * The collector's spans once those of every GEM job have arrived and no more come for a second: spans are
 * batched and sent every 500 ms, so the last activities' may still be on their way when the runs complete.
 */
async function spansOfJobs(matches: CompactMatch[]): Promise<CollectedSpan[]> {
  const jobIds = matches.map((m) => m.jobId).filter((id): id is number => typeof id === 'number');
  const deadline = Date.now() + 20_000;
  let previous = -1;
  for (;;) {
    const collected = t.app.collector!.spans();
    const traced = new Set(collected.map((span) => span.attributes[JOB_ID]));
    const settled = collected.length === previous && jobIds.every((id) => traced.has(id));
    if (settled || Date.now() > deadline) return collected;
    previous = collected.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

describe('secrets never reach stored state or logs', () => {
  it('covered every path: success with callback, GEM failure, invalid input, success after key rotation', () => {
    expect(outcomes['secrets/ok.parquet']).toMatchObject({
      runtimeStatus: 'Completed',
      outcome: 'succeeded',
    });
    expect(outcomes['secrets/gem-fails.parquet']).toMatchObject({
      outcome: 'gem-failed',
      gemStatus: 'FAILED',
    });
    expect(outcomes['secrets/invalid.parquet']).toMatchObject({ outcome: 'invalid-input', jobId: null });
    expect(outcomes['secrets/after-rotation.parquet']).toMatchObject({
      runtimeStatus: 'Completed',
      outcome: 'succeeded',
    });
    // The callback really was signed with the secret being scanned for.
    expect(callbacks).toHaveLength(1);
    expect(
      verifySignature(
        callbacks[0]!.body,
        callbacks[0]!.signature,
        t.app.stack.settings.NOTIFY_SIGNING_SECRET!,
        {
          now: new Date(),
        },
      ),
    ).toBe(true);
    // The rotation really went through the recovery path: TomTom refused the old key at least once.
    expect(requestsAfterRotation.byStatus['401'] ?? 0).toBeGreaterThan(0);
  });

  it('scanned real content from every source', () => {
    const text = (prefix: string) =>
      sources
        .filter((s) => s.source.startsWith(prefix))
        .map((s) => s.text)
        .join('\n');
    const matchIds = Object.values(outcomes).map((m) => m.id);
    const tables = text('table ');
    for (const id of matchIds) expect(tables).toContain(id);
    expect(tables).toContain('deliverResults');
    const histories = text('Durable API history');
    expect(histories).toContain('TaskCompleted');
    expect(histories).toContain('"outcome":"succeeded"');
    const appBlobs = text('app blob outbox/');
    expect(appBlobs).toContain('gem-flow.match-summary');
    expect(appBlobs).toContain('gem-flow.match-error');
    expect(appBlobs).toContain('gem-flow.validation-report');
    expect(appBlobs).toContain('PAR1'); // the results Parquet files
    expect(text('PDG blob')).toContain('PAR1');
    expect(text('host log')).toContain('Functions host ready');
    // Tokens were issued (MI for TomTom and Key Vault, client credentials for the PDG principal), so the
    // exact-token search had something to look for.
    expect(secrets.filter((s) => s.name.startsWith('issued access token')).length).toBeGreaterThanOrEqual(2);
  });

  it('traced every run: spans from the trigger through the activities to the TomTom calls name the match', () => {
    expect(t.app.collector!.refusals()).toEqual([]);
    expect(spans.length).toBeGreaterThan(50);
    const ok = outcomes['secrets/ok.parquet']!;
    const ofMatch = spans.filter((s) => s.attributes[MATCH_ID] === ok.id);
    const names = new Set(ofMatch.map((s) => s.name));
    // The Event Grid trigger's invocation (it computed the id), each activity, and the HTTP requests below them.
    for (const name of [
      'onInboxUpload',
      'validateInput',
      'stageInput',
      'submitJob',
      'pollJob',
      'deliverResults',
    ]) {
      expect(names, name).toContain(name);
    }
    const requests = ofMatch.filter((s) => /^HTTP (GET|POST|PUT|HEAD|DELETE)/.test(s.name));
    expect(requests.length).toBeGreaterThan(0);
    // The TomTom calls of the job carry its id: GEM's job status polls in particular.
    const ofJob = spans.filter((s) => s.attributes[JOB_ID] === ok.jobId);
    expect(ofJob.map((s) => s.name)).toContain('pollJob');
    const simulatorHost = new URL(t.app.stack.info.simulatorUrl).host;
    expect(ofJob.some((s) => JSON.stringify(s.attributes).includes(simulatorHost))).toBe(true);
    // Every activity span names its match and activity; every match was traced, the invalid one without a job.
    const activitySpans = spans.filter((s) => s.attributes['gemflow.activity'] !== undefined);
    expect(activitySpans.every((s) => typeof s.attributes[MATCH_ID] === 'string')).toBe(true);
    for (const match of Object.values(outcomes)) {
      expect(
        spans.some((s) => s.attributes[MATCH_ID] === match.id),
        match.id,
      ).toBe(true);
    }
    const invalid = outcomes['secrets/invalid.parquet']!;
    expect(
      spans.some((s) => s.attributes[MATCH_ID] === invalid.id && s.attributes[JOB_ID] !== undefined),
    ).toBe(false);
  });

  it('the span collector and scanner find a secret in a span (positive control)', async () => {
    const collector = await startOtlpCollector();
    try {
      const span = (key: string, value: string) => ({ key, value: { stringValue: value } });
      const exported = await fetch(`${collector.endpoint}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          resourceSpans: [
            {
              scopeSpans: [
                {
                  spans: [
                    {
                      traceId: '0af7651916cd43dd8448eb211c80319c',
                      spanId: 'b7ad6b7169203331',
                      name: 'HTTP GET',
                      attributes: [span('url.full', `https://x/?key=${rotatedKey}`)],
                      events: [
                        { name: 'exception', attributes: [span('exception.message', 'hvs.CAESIabcdef')] },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        }),
      });
      expect(exported.status).toBe(200);
      const found = scan(spanSources(collector.spans()), secrets).map((f) => f.secret);
      expect(found).toEqual(['rotated TomTom API key', SECRET_SHAPES[1]!.name]);
    } finally {
      await collector.close();
    }
  });

  it('the scanner finds each kind of secret when it is there (positive controls)', async () => {
    const info = t.app.stack.info;
    const token = await t.app.stack.identity.issueToken({ aud: info.gemAudience });
    const planted: TextSource[] = [
      { source: 'api key', text: `{"headers":{"tomtom-api-key":"${info.apiKey}"}}` },
      { source: 'rotated key', text: `key=${rotatedKey}` },
      { source: 'jwt', text: `Authorization: Bearer ${token}` },
      {
        source: 'sp secret',
        text: `client_secret=${info.pdgStorages[0]!.servicePrincipal.clientSecret}&x=1`,
      },
      { source: 'vault token', text: 'X-Vault-Token: hvs.CAESIabcdef' },
      { source: 'notify secret', text: `secret ${t.app.stack.settings.NOTIFY_SIGNING_SECRET}` },
    ];
    const withToken = [...secrets, { name: 'control token', value: token }];
    const found = scan(planted, withToken);
    const bySource = (source: string) => found.filter((f) => f.source === source).map((f) => f.secret);
    expect(bySource('api key')).toEqual(['TomTom API key']);
    expect(bySource('rotated key')).toEqual(['rotated TomTom API key']);
    expect(bySource('jwt')).toEqual(['control token', SECRET_SHAPES[0]!.name]);
    expect(bySource('sp secret')).toEqual([`PDG service principal secret (${info.pdgStorages[0]!.id})`]);
    expect(bySource('vault token')).toEqual([SECRET_SHAPES[1]!.name]);
    expect(bySource('notify secret')).toEqual(['notification signing secret']);
    expect(
      scan(
        [{ source: 'clean', text: 'nothing to see: eyJhbGc, hvs. and a key-shaped gemflow-local-x' }],
        secrets,
      ),
    ).toEqual([]);
  });

  it('the blob and table collectors pick up a secret planted in storage', async () => {
    const { BlobServiceClient } = await import('@azure/storage-blob');
    const service = BlobServiceClient.fromConnectionString(t.app.stack.info.storageConnectionString);
    const container = service.getContainerClient('scan-control');
    await container.createIfNotExists();
    await container.getBlockBlobClient('planted.txt').upload(`key ${rotatedKey}`, rotatedKey.length + 4);
    try {
      const found = scan(await blobSources(t.app.stack.info.storageConnectionString, 'app'), secrets);
      expect(found.map(({ source, secret }) => ({ source, secret }))).toEqual([
        { source: 'app blob scan-control/planted.txt', secret: 'rotated TomTom API key' },
      ]);
    } finally {
      await container.delete();
    }
    const { TableClient } = await import('@azure/data-tables');
    const table = TableClient.fromConnectionString(t.app.stack.info.storageConnectionString, 'scancontrol');
    await table.createTable();
    await table.createEntity({ partitionKey: 'p', rowKey: 'r', D0: `{"Input":"${rotatedKey}"}` });
    try {
      const found = scan(await tableSources(t.app.stack.info.storageConnectionString), secrets);
      expect(found.map(({ source, secret }) => ({ source, secret }))).toEqual([
        { source: 'table scancontrol (1 rows)', secret: 'rotated TomTom API key' },
      ]);
    } finally {
      await table.deleteTable();
    }
  });

  it('finds no secret in tables, statuses, histories, blobs, host state, host logs or spans', () => {
    expect(sources.length).toBeGreaterThan(10);
    const findings = scan(sources, secrets);
    // Findings name the secret and where it was, never the value.
    expect(findings).toEqual([]);
  });
});
