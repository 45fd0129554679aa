/**
 * Match attributes on spans, through `@opentelemetry/api` alone: without a registered SDK every call here is a
 * no-op (the API's default tracer and context manager), so the app pays nothing when tracing is off.
 *
 * - `withInvocationSpan` gives each function invocation a span of the worker's own, the parent of everything
 *   the handler does (on Azure the host's invocation span is its parent, see functions/telemetry.ts).
 * - `withMatchAttributes` puts what is known of the match on the active span and into the context, and
 *   `MatchAttributesSpanProcessor` copies it from the context onto every span started below, e.g. the Azure
 *   SDK's spans for each TomTom, Key Vault and storage request.
 * - `setMatchAttributes` adds attributes to the active span once a handler computed them (the match id).
 */
import {
  type Context,
  context,
  createContextKey,
  type Span,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { type MatchSpanAttributes, spanAttributesOf } from './attributes.js';

export const TRACER_NAME = 'gem-flow';

const MATCH_KEY = createContextKey('gemflow.match');

function matchIn(ctx: Context): MatchSpanAttributes {
  return (ctx.getValue(MATCH_KEY) as MatchSpanAttributes | undefined) ?? {};
}

/** Runs `fn` with `match` on the active span and on every span started within it. */
export function withMatchAttributes<T>(match: MatchSpanAttributes, fn: () => T): T {
  trace.getActiveSpan()?.setAttributes(spanAttributesOf(match));
  const active = context.active();
  const known = Object.fromEntries(Object.entries(match).filter(([, value]) => value !== undefined));
  return context.with(active.setValue(MATCH_KEY, { ...matchIn(active), ...known }), fn);
}

/** Adds `match` to the active span (a handler that has just computed the match id). */
export function setMatchAttributes(match: MatchSpanAttributes): void {
  trace.getActiveSpan()?.setAttributes(spanAttributesOf(match));
}

/** The function invocation's span: named after the function, ended when `fn` settles, failures recorded. */
export async function withInvocationSpan<T>(
  invocation: { functionName: string; invocationId: string },
  fn: () => Promise<T>,
): Promise<T> {
  const tracer = trace.getTracer(TRACER_NAME);
  const attributes = { 'faas.name': invocation.functionName, 'faas.invocation_id': invocation.invocationId };
  return tracer.startActiveSpan(invocation.functionName, { attributes }, async (span: Span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'Error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Copies the match attributes of the parent context onto each span as it starts. */
export class MatchAttributesSpanProcessor implements SpanProcessor {
  onStart(span: Parameters<SpanProcessor['onStart']>[0], parentContext: Context): void {
    span.setAttributes(spanAttributesOf(matchIn(parentContext)));
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
