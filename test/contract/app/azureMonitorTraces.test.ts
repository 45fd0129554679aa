// The Azure path of tracing, end to end through the real distro: shared/telemetry/start.ts starts
// @azure/monitor-opentelemetry (useAzureMonitor) in a fresh Node process, as the app does on Azure, with a
// connection string whose IngestionEndpoint is an HTTPS stand-in for Application Insights' Breeze ingestion
// (`POST /v2.1/track`, gzip JSON envelopes, answered as the service does). What it proves: the match attributes
// reach Application Insights as `customDimensions` (the envelopes' `properties`) on the invocation span and on
// a request span started below it, and secret shapes recorded on a span (an attribute, an exception message)
// arrive redacted, i.e. RedactingSpanProcessor runs before the distro's exporter.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls } from '../../../local/standins/tls.js';

const run = promisify(execFile);
const repoRoot = join(__dirname, '../../..');
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21vbml0b3IifQ.c2lnbmF0dXJlLXBhcnQ';

interface Envelope {
  name: string;
  tags?: Record<string, string>;
  data?: { baseType?: string; baseData?: { name?: string; properties?: Record<string, string> } };
}

let dir: string;
let server: Server;
const bodies: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gemflow-monitor-'));
  const tls = await ensureTls({ dir });
  server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ itemsReceived: 1, itemsAccepted: 1, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  // The app's own modules, compiled, in a process of their own: the distro registers global providers.
  const script = `
    const { startTelemetry } = require(${JSON.stringify(join(repoRoot, 'dist/shared/telemetry/start.js'))});
    const spans = require(${JSON.stringify(join(repoRoot, 'dist/shared/telemetry/spans.js'))});
    const { trace, SpanKind } = require('@opentelemetry/api');
    (async () => {
      const stop = await startTelemetry({
        kind: 'azure-monitor',
        connectionString: 'InstrumentationKey=00000000-0000-4000-8000-000000000002;IngestionEndpoint=https://127.0.0.1:${port}/',
      });
      await spans.withInvocationSpan({ functionName: 'pollJob', invocationId: 'inv-1' }, () =>
        spans.withMatchAttributes({ matchId: 'match-traced', jobId: 4242, activity: 'pollJob' }, async () => {
          const request = trace.getTracer('@azure/core-rest-pipeline').startSpan('HTTP GET', { kind: SpanKind.CLIENT });
          request.setAttribute('gemflow.test.note', 'downloaded https://a.blob.core.windows.net/c/b?sv=1&sig=SECRET-SIG');
          request.recordException(new Error('refused Bearer ${JWT}'));
          request.end();
        }));
      await stop();
    })().catch((error) => { console.error(error); process.exit(1); });
  `;
  await run(process.execPath, ['-e', script], {
    cwd: repoRoot,
    timeout: 60_000,
    // Every trace kept (the distro's default samples at most 5 a second), and the stand-in's certificate trusted.
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.caFile, OTEL_TRACES_SAMPLER: 'always_on' },
  });
}, 90_000);

afterAll(async () => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function envelopes(): Envelope[] {
  return bodies.flatMap((body) => JSON.parse(body) as Envelope[]);
}

describe('traces through the Azure Monitor distro', () => {
  it('sends the invocation and the request below it, both naming the match and the GEM job', () => {
    const dependencies = envelopes().filter((e) => e.data?.baseType === 'RemoteDependencyData');
    const named = (name: string) => dependencies.find((e) => e.data?.baseData?.name === name);
    for (const name of ['pollJob', 'HTTP GET']) {
      expect(named(name)?.data?.baseData?.properties, name).toMatchObject({
        'gemflow.match.id': 'match-traced',
        'gemflow.gem.job_id': '4242',
        'gemflow.activity': 'pollJob',
      });
    }
    // One operation: the request is the invocation's child.
    expect(named('HTTP GET')?.tags?.['ai.operation.id']).toBe(named('pollJob')?.tags?.['ai.operation.id']);
  });

  it('redacts secret shapes before the exporter sends them', () => {
    const sent = bodies.join('\n');
    expect(sent).toContain('sig=REDACTED');
    expect(sent).toContain('Bearer REDACTED');
    expect(sent).not.toContain('SECRET-SIG');
    expect(sent).not.toContain(JWT);
  });
});
