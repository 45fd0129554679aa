// The match attributes on real spans: a Node tracer provider (AsyncLocalStorage context) registered as the
// global one, as shared/telemetry/start.ts registers it, and an in-memory exporter to read what would be sent.
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ACTIVITY_ATTRIBUTE,
  GEM_JOB_ID_ATTRIBUTE,
  jobIdIn,
  MATCH_ID_ATTRIBUTE,
} from '../../../shared/telemetry/attributes.js';
import {
  MatchAttributesSpanProcessor,
  setMatchAttributes,
  withInvocationSpan,
  withMatchAttributes,
} from '../../../shared/telemetry/spans.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({
  spanProcessors: [new MatchAttributesSpanProcessor(), new SimpleSpanProcessor(exporter)],
});

beforeAll(() => provider.register());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});
beforeEach(() => exporter.reset());

/** A span the way an instrumentation (the Azure SDK's, for a TomTom request) starts one: from the context. */
async function sdkRequest(name: string): Promise<void> {
  const span = trace.getTracer('@azure/core-rest-pipeline').startSpan(name);
  await new Promise((resolve) => setTimeout(resolve, 1));
  span.end();
}

function spanNamed(name: string) {
  const span = exporter.getFinishedSpans().find((s) => s.name === name);
  if (!span) throw new Error(`no span ${name}: ${exporter.getFinishedSpans().map((s) => s.name)}`);
  return span;
}

describe('match attributes on spans', () => {
  it('puts the match on the invocation span and on every span started below it, across awaits', async () => {
    const invocation = { functionName: 'pollJob', invocationId: 'inv-1' };
    await withInvocationSpan(invocation, () =>
      withMatchAttributes({ matchId: 'm-1', activity: 'pollJob', jobId: 42 }, async () => {
        await sdkRequest('HTTP GET');
        await sdkRequest('HTTP GET again');
      }),
    );
    for (const name of ['pollJob', 'HTTP GET', 'HTTP GET again']) {
      expect(spanNamed(name).attributes).toMatchObject({
        [MATCH_ID_ATTRIBUTE]: 'm-1',
        [GEM_JOB_ID_ATTRIBUTE]: 42,
        [ACTIVITY_ATTRIBUTE]: 'pollJob',
      });
    }
    const parent = spanNamed('pollJob').spanContext().spanId;
    expect(spanNamed('HTTP GET').parentSpanContext?.spanId).toBe(parent);
    expect(spanNamed('pollJob').attributes['faas.invocation_id']).toBe('inv-1');
  });

  it('leaves out what is not known, and keeps what an outer scope knew', async () => {
    await withInvocationSpan({ functionName: 'submitJob', invocationId: 'inv-2' }, () =>
      withMatchAttributes({ matchId: 'm-2', activity: 'submitJob' }, () =>
        withMatchAttributes({ jobId: undefined }, async () => {
          await sdkRequest('HTTP POST');
          setMatchAttributes({ jobId: 7 });
        }),
      ),
    );
    expect(spanNamed('HTTP POST').attributes[MATCH_ID_ATTRIBUTE]).toBe('m-2');
    expect(spanNamed('HTTP POST').attributes).not.toHaveProperty(GEM_JOB_ID_ATTRIBUTE);
    // The job id learnt from the result lands on the invocation span.
    expect(spanNamed('submitJob').attributes[GEM_JOB_ID_ATTRIBUTE]).toBe(7);
  });

  it('records a failure on the invocation span and rethrows it', async () => {
    const failure = withInvocationSpan({ functionName: 'stageInput', invocationId: 'inv-3' }, async () => {
      throw new TypeError('bad input');
    });
    await expect(failure).rejects.toThrow('bad input');
    const span = spanNamed('stageInput');
    expect(span.status).toEqual({ code: 2, message: 'TypeError' });
    expect(span.events[0]?.attributes?.['exception.message']).toBe('bad input');
  });

  it('continues a trace whose context the host passed', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = propagation.extract(context.active(), {
      traceparent: `00-${traceId}-b7ad6b7169203331-01`,
    });
    await context.with(parent, () =>
      withInvocationSpan({ functionName: 'startMatch', invocationId: 'inv-4' }, async () => {}),
    );
    expect(spanNamed('startMatch').spanContext().traceId).toBe(traceId);
    expect(spanNamed('startMatch').parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });
});

describe('jobIdIn', () => {
  it('reads a positive integer jobId and nothing else', () => {
    expect(jobIdIn({ jobId: 12, apiKey: 'x' })).toBe(12);
    for (const value of [
      null,
      undefined,
      'x',
      {},
      { jobId: null },
      { jobId: '12' },
      { jobId: 0 },
      { jobId: 1.5 },
    ]) {
      expect(jobIdIn(value)).toBeUndefined();
    }
  });
});
