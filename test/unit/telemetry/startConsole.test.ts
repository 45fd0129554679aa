// `OTEL_TRACES_EXPORTER=console`: startTelemetry registers the Node tracer with the console exporter, and the
// spans the app makes (with their match attributes, redacted) are printed when the SDK stops.
import { context, propagation, trace } from '@opentelemetry/api';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { MATCH_ID_ATTRIBUTE } from '../../../shared/telemetry/attributes.js';
import { withInvocationSpan, withMatchAttributes } from '../../../shared/telemetry/spans.js';
import { startTelemetry } from '../../../shared/telemetry/start.js';

afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('tracing to the console', () => {
  it('prints each span with its match attributes and secrets redacted', async () => {
    const printed: unknown[] = [];
    const dir = vi.spyOn(console, 'dir').mockImplementation((item: unknown) => printed.push(item));
    try {
      const stop = await startTelemetry({ kind: 'console' });
      await withInvocationSpan({ functionName: 'validateInput', invocationId: 'inv-c' }, () =>
        withMatchAttributes({ matchId: 'match-c', activity: 'validateInput' }, async () => {
          trace.getActiveSpan()?.setAttribute('note', 'read https://a/c/b?sig=console-secret');
        }),
      );
      await stop();
    } finally {
      dir.mockRestore();
    }
    const spans = printed as { name: string; attributes: Record<string, unknown>; resource: unknown }[];
    const span = spans.find((s) => s.name === 'validateInput');
    expect(span?.attributes).toMatchObject({
      [MATCH_ID_ATTRIBUTE]: 'match-c',
      'faas.invocation_id': 'inv-c',
    });
    expect(JSON.stringify(printed)).not.toContain('console-secret');
    expect(span?.attributes.note).toBe('read https://a/c/b?sig=REDACTED');
  });
});
