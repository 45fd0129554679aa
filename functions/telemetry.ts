/**
 * Tracing, on when the environment names a target (shared/telemetry/target.ts) and absent otherwise: with no
 * target nothing is registered and no SDK is loaded. With one, the SDK starts once the app has loaded
 * (shared/telemetry/start.ts, imported then, never at import), and a pre-invocation hook runs every handler
 * inside a span of its own, the child of the host's invocation span: in `telemetryMode: OpenTelemetry`
 * (host.json) the host hands the worker the W3C trace context of each invocation
 * (`InvocationContext.traceContext`), which is extracted here so the worker's spans continue the host's trace. Orchestrator episodes get no span: they replay on every
 * event, and their work is in the activities, which do.
 *
 * The worker does not claim the host's `WorkerOpenTelemetryEnabled` capability: the host keeps exporting the
 * function logs, and the worker exports spans only.
 */
import { app, type InvocationContext, type PreInvocationContext } from '@azure/functions';
import { context as otelContext, propagation } from '@opentelemetry/api';
import { onFirstUse } from '../shared/lazy.js';
import { withInvocationSpan } from '../shared/telemetry/spans.js';
import type { StopTelemetry } from '../shared/telemetry/start.js';
import { type TelemetryTarget, telemetryTargetOf } from '../shared/telemetry/target.js';

const UNTRACED_TRIGGERS = new Set(['orchestrationTrigger', 'entityTrigger']);

// The platform's and OpenTelemetry's variables, read once at import (see shared/telemetry/target.ts).
const target = telemetryTargetOf(process.env);
if (target.kind !== 'none') registerTracing(target);

function registerTracing(configured: Exclude<TelemetryTarget, { kind: 'none' }>): void {
  let stop: StopTelemetry | undefined;
  // One attempt: tracing that cannot start is reported and left off, never failing an invocation.
  const started = onFirstUse(() =>
    import('../shared/telemetry/start.js')
      .then(async ({ startTelemetry }) => {
        stop = await startTelemetry(configured);
        return stop;
      })
      .catch((error: unknown) => {
        console.warn(`Tracing to ${configured.kind} is off: it could not start (${String(error)}).`);
        return undefined;
      }),
  );
  // Loading the SDK takes a while (the Azure Monitor distro is about 1 100 modules, ~1.8 s on a busy laptop):
  // it starts with the app, beside the host's own start-up, and the first invocation waits only for the rest.
  app.hook.appStart(() => {
    void started();
  });
  app.hook.preInvocation(async (hook) => {
    if ((await started()) && !UNTRACED_TRIGGERS.has(hook.invocationContext.options.trigger.type))
      traceHandler(hook);
  });
  // Spans still batched are sent before the worker exits.
  app.hook.appTerminate(async () => {
    await stop?.();
  });
}

/** Runs the handler in the host's trace context (when given) and inside the invocation's span. */
function traceHandler(hook: PreInvocationContext): void {
  const invocation: InvocationContext = hook.invocationContext;
  const traceContext = invocation.traceContext;
  const parent = traceContext?.traceParent
    ? propagation.extract(otelContext.active(), {
        traceparent: traceContext.traceParent,
        tracestate: traceContext.traceState ?? '',
      })
    : otelContext.active();
  const handler = hook.functionHandler;
  hook.functionHandler = (...args: Parameters<typeof handler>) =>
    otelContext.with(parent, () => withInvocationSpan(invocation, async () => handler(...args)));
}
