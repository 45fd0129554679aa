// The OTLP collector stand-in, fed by the real OTLP/HTTP exporter (JSON), and refusing what it cannot read.

import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtlpCollector, startOtlpCollector } from '../../../local/standins/otlpCollector.js';

let collector: OtlpCollector;
beforeAll(async () => {
  collector = await startOtlpCollector();
});
afterAll(() => collector.close());

describe('OTLP collector stand-in', () => {
  it('records the spans the OTLP/HTTP exporter sends: names, ids, typed attributes, events, status', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'gem-flow' }),
      spanProcessors: [
        new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${collector.endpoint}/v1/traces` })),
      ],
    });
    const tracer = provider.getTracer('test');
    const parent = tracer.startSpan('pollJob', {
      attributes: { 'gemflow.match.id': 'm-1', 'gemflow.gem.job_id': 42 },
    });
    parent.addEvent('polled', { attempt: 3, final: true, tags: ['a', 'b'] });
    parent.setStatus({ code: 2, message: 'GEM said no' });
    parent.end();
    await provider.forceFlush();
    await provider.shutdown();

    const [span] = collector.spans().filter((s) => s.name === 'pollJob');
    expect(span).toMatchObject({
      name: 'pollJob',
      service: 'gem-flow',
      attributes: { 'gemflow.match.id': 'm-1', 'gemflow.gem.job_id': 42 },
      events: [{ name: 'polled', attributes: { attempt: 3, final: true, tags: ['a', 'b'] } }],
      status: { code: 2, message: 'GEM said no' },
    });
    expect(span!.traceId).toMatch(/^[0-9a-f]{32}$/);
    const byMatch = (await (await fetch(`${collector.endpoint}/spans?match=m-1`)).json()) as {
      name: string;
    }[];
    expect(byMatch.map((s) => s.name)).toEqual(['pollJob']);
  });

  it('refuses protobuf, non-OTLP JSON and oversized bodies, saying why', async () => {
    const post = (body: string | Uint8Array, type: string) =>
      fetch(`${collector.endpoint}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post(new Uint8Array([10, 0]), 'application/x-protobuf')).status).toBe(415);
    expect((await post('{"resourceSpans": [', 'application/json')).status).toBe(400);
    expect((await post('x'.repeat((16 << 20) + 1), 'application/json')).status).toBe(413);
    const refusals = collector.refusals();
    expect(refusals[0]).toContain('OTEL_EXPORTER_OTLP_PROTOCOL=http/json');
    expect(refusals[1]).toContain('not an OTLP JSON trace export');
    expect(refusals[2]).toContain('larger than');
  });
});
