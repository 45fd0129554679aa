// The matchFile activities against fake services: what they write to the outbox, and where. (The conditional
// writes themselves are checked against Azurite in test/contract/app/outboxPointer.test.ts.)
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { roadMatchingSample } from '../../../local/standins/samples.js';
import { createMatchActivities } from '../../../shared/activities/match.js';
import { loadSettings } from '../../../shared/config.js';
import type { Services } from '../../../shared/services.js';
import {
  TomTomNetworkError,
  TomTomNotFoundError,
  TomTomServiceError,
} from '../../../shared/tomtom/errors.js';
import { outboxLocationFor } from '../../../shared/workflow/outboxNames.js';
import type { DeliverResultsInput } from '../../../shared/workflow/types.js';
import { sampleMatchInput } from '../../support/matchInput.js';

type Conditions = { ifMatch?: string; ifNoneMatch?: string };
const failure = (statusCode: number) => Object.assign(new Error(`status ${statusCode}`), { statusCode });

/** An outbox container that keeps blobs in a map and honours If-Match / If-None-Match: * as Blob Storage does. */
function fakeOutbox() {
  const blobs = new Map<string, { body: string; etag: string }>();
  let version = 0;
  const container = {
    containerName: 'outbox',
    getBlockBlobClient: (name: string) => ({
      upload: async (body: string, _length: number, options: { conditions?: Conditions } = {}) => {
        const current = blobs.get(name);
        const { ifMatch, ifNoneMatch } = options.conditions ?? {};
        if (ifNoneMatch === '*' && current) throw failure(409);
        if (ifMatch !== undefined && current?.etag !== ifMatch) throw failure(412);
        blobs.set(name, { body, etag: `"v${++version}"` });
        return {};
      },
    }),
    getBlobClient: (name: string) => ({
      getProperties: async () => {
        const current = blobs.get(name);
        if (!current) throw failure(404);
        return { etag: current.etag, contentLength: Buffer.byteLength(current.body) };
      },
      downloadToBuffer: async (
        _offset?: number,
        _count?: number,
        options: { conditions?: Conditions } = {},
      ) => {
        const current = blobs.get(name);
        if (!current) throw failure(404);
        if (options.conditions?.ifMatch !== undefined && options.conditions.ifMatch !== current.etag)
          throw failure(412);
        return Buffer.from(current.body);
      },
    }),
  };
  const json = (name: string) => {
    const blob = blobs.get(name);
    return blob === undefined ? undefined : JSON.parse(blob.body);
  };
  return { blobs, json, services: { outbox: container, tomtom: {} } as unknown as Services };
}

const source = { kind: 'inbox', container: 'inbox', blobName: 'roads.parquet', etag: '0x1' } as const;
const location = outboxLocationFor(source, 'match-1');
const folder = `${location.nameKey}/match-1`;
const minimalEnv = { TOMTOM_API_KEY: 'local-key-123456', AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

const timedOut: DeliverResultsInput = {
  request: sampleMatchInput({ source, outbox: location, requestedAt: '2026-02-18T09:59:00Z' }),
  instanceId: 'match-1',
  pdgFilename: 'roads-abc.parquet',
  jobId: 7,
  poll: null,
  timedOut: true,
  lastGemStatus: 'IN_PROGRESS',
  deadline: '2026-02-20T10:00:00Z',
  startedAt: '2026-02-18T09:59:00Z',
  submittedAt: '2026-02-18T10:00:00Z',
  polls: 300,
  finishedAt: '2026-02-20T10:00:07Z',
};

/** The same name, requested a minute later by another run (a re-upload). */
const newerRun: DeliverResultsInput = {
  ...timedOut,
  request: {
    ...timedOut.request,
    source: { ...source, etag: '0x2' },
    outbox: outboxLocationFor(source, 'match-2'),
    requestedAt: '2026-02-18T10:00:00Z',
  },
  instanceId: 'match-2',
};

describe('deliverResults', () => {
  it('a timed-out match: the error document names the monitoring deadline and the last GEM status', async () => {
    const { json, services } = fakeOutbox();
    const result = await createMatchActivities(services).deliverResults(timedOut);
    expect(result).toMatchObject({ outcome: 'timed-out', summaryBlob: `${folder}/error.json` });
    const document = json(`${folder}/error.json`);
    expect(document.instanceId).toBe('match-1');
    expect(document.timings.deadline).toBe('2026-02-20T10:00:00Z');
    expect(document.job.status).toBe('IN_PROGRESS');
    expect(document.message).toContain('deadline 2026-02-20T10:00:00Z (last status IN_PROGRESS)');
    expect(result.message).toBe(document.message);
  });

  it('running twice writes the same documents (at-least-once delivery)', async () => {
    const { blobs, services } = fakeOutbox();
    const activities = createMatchActivities(services);
    await activities.deliverResults(timedOut);
    const first = [...blobs].map(([name, blob]) => [name, blob.body]);
    await activities.deliverResults(timedOut);
    expect([...blobs].map(([name, blob]) => [name, blob.body])).toEqual(first);
  });

  it('points latest.json at the run, and an older run finishing later leaves it at the newer one', async () => {
    const { json, services } = fakeOutbox();
    const activities = createMatchActivities(services);
    await activities.deliverResults(newerRun);
    await activities.deliverResults(timedOut);
    expect(json(`${location.nameKey}/latest.json`)).toEqual({
      kind: 'gem-flow.latest-run',
      version: 1,
      source: newerRun.request.source,
      run: 'match-2',
      requestedAt: '2026-02-18T10:00:00Z',
      outcome: 'timed-out',
      outputs: { error: `${location.nameKey}/match-2/error.json` },
    });
    // Each run's own document stays its own.
    expect(json(`${location.nameKey}/match-1/error.json`).instanceId).toBe('match-1');
    expect(json(`${location.nameKey}/match-2/error.json`).instanceId).toBe('match-2');
  });
});

describe('notify', () => {
  it('refuses to send a document another run wrote', async () => {
    const { services } = fakeOutbox();
    Object.assign(services, { settings: { notify: { allowedHosts: '', maxAttempts: 1 } } });
    const activities = createMatchActivities(services);
    await activities.deliverResults(timedOut);
    const outcome = await activities.notify({
      url: 'https://hooks.example.com/done',
      summaryBlob: `${folder}/error.json`,
      instanceId: 'match-2',
    });
    expect(outcome).toEqual({
      delivered: false,
      attempts: 0,
      error: `outbox/${folder}/error.json belongs to run match-1, not match-2; nothing was sent.`,
    });
  });
});

describe('pollJob', () => {
  const pollWith = (failure: unknown) =>
    createMatchActivities({
      tomtom: {
        getJob: async () => {
          throw failure;
        },
      },
    } as unknown as Services).pollJob({ jobId: 7 });
  const details = (status: number) => ({ operation: 'GET job 7', status });

  it('reports a throttled, failing or unreachable service as transient, so the loop keeps polling', async () => {
    for (const failure of [
      new TomTomServiceError('GEM answered 503', details(503)),
      new TomTomNetworkError('no response', details(0)),
    ]) {
      expect(await pollWith(failure)).toMatchObject({ terminal: false, error: { permanent: false } });
    }
  });

  it('reports a vanished job, a defect or refused access as permanent, so the loop stops', async () => {
    for (const failure of [
      new TomTomNotFoundError('no such job', details(404)),
      new TypeError("Cannot read properties of undefined (reading 'status')"),
    ]) {
      const poll = await pollWith(failure);
      expect(poll.error).toMatchObject({ permanent: true, message: (failure as Error).message });
    }
  });
});

describe('validateInput', () => {
  /** An inbox holding one blob, readable by ranges as the SDK's BlobClient is. */
  function inboxWith(bytes: Uint8Array) {
    const blob = {
      url: 'https://account.blob.core.windows.net/inbox/roads.parquet',
      getProperties: async () => ({ etag: '"0x1"', contentLength: bytes.byteLength }),
      download: async (offset = 0, count = bytes.byteLength - offset) => ({
        readableStreamBody: Readable.from([Buffer.from(bytes.subarray(offset, offset + count))]),
        contentLength: count,
      }),
    };
    return { getContainerClient: () => ({ getBlobClient: () => blob }) };
  }

  it('validates with the limits in the settings (VALIDATION_*), and reports what exceeds them', async () => {
    const { blobs, services } = fakeOutbox();
    const input = { ...timedOut.request };
    const bytes = roadMatchingSample('valid', { rows: 20 });
    const withLimits = (maxRows: number) =>
      createMatchActivities({
        ...services,
        appBlobs: inboxWith(bytes),
        settings: { validation: { ...loadSettings(minimalEnv).validation, maxRows } },
      } as unknown as Services).validateInput(input);

    expect(await withLimits(20)).toMatchObject({ valid: true, rowCount: 20 });
    const refused = await withLimits(19);
    expect(refused).toMatchObject({ valid: false, rowCount: 20, reportBlob: `${folder}/validation.json` });
    const report = JSON.parse(blobs.get(`${folder}/validation.json`)?.body ?? '{}');
    expect(report.problems.map((p: { rule: string }) => p.rule)).toEqual(['row-limit']);
    expect(report.problems[0].message).toContain('VALIDATION_MAX_ROWS');
  });
});
