/**
 * An OTLP/HTTP trace collector stand-in: `POST /v1/traces` with the OTLP JSON encoding (what
 * `@opentelemetry/exporter-trace-otlp-http` sends), each span kept as name, ids, attributes, events and status,
 * so `npm start` can show the spans of a match and tests can scan them. `GET /spans` answers them as JSON
 * (`?match=<id>` keeps one match's). Protobuf bodies are refused with 415 naming the JSON protocol setting, a
 * body over 16 MiB with 413; at most 100 000 spans are kept, the oldest dropped first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen, readBody, safeHandler, sendJson } from './httpUtil.js';

const MAX_EXPORT_BYTES = 16 << 20;
const MAX_SPANS = 100_000;

export type SpanAttributeValue = string | number | boolean | SpanAttributeValue[] | null;

export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** `service.name` of the resource that sent it. */
  service?: string;
  attributes: Record<string, SpanAttributeValue>;
  events: { name: string; attributes: Record<string, SpanAttributeValue> }[];
  status?: { code?: number; message?: string };
}

export interface OtlpCollector {
  /** The base URL to give as `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** Every span received so far, oldest first. */
  spans(): CollectedSpan[];
  /** Export requests refused so far (wrong encoding, too large, unparsable), with the reason. */
  refusals(): string[];
  close(): Promise<void>;
}

/** OTLP JSON's AnyValue (opentelemetry-proto common.proto): exactly one of these is set. */
interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: KeyValue[];
  events?: { name: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}
interface ExportTraceServiceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: OtlpSpan[] }[] }[];
}

function attributeValueOf(value: AnyValue | undefined): SpanAttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(attributeValueOf);
  if (value.kvlistValue) return JSON.stringify(attributesOf(value.kvlistValue.values));
  return value.bytesValue ?? null;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, SpanAttributeValue> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, attributeValueOf(kv.value)]));
}

/** The spans of one OTLP JSON export request. */
export function spansOfExport(request: ExportTraceServiceRequest): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const service = attributesOf(resourceSpans.resource?.attributes)['service.name'];
    for (const scope of resourceSpans.scopeSpans ?? []) {
      for (const span of scope.spans ?? []) {
        spans.push({
          traceId: span.traceId,
          spanId: span.spanId,
          ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
          name: span.name,
          ...(typeof service === 'string' ? { service } : {}),
          attributes: attributesOf(span.attributes),
          events: (span.events ?? []).map((e) => ({ name: e.name, attributes: attributesOf(e.attributes) })),
          ...(span.status ? { status: span.status } : {}),
        });
      }
    }
  }
  return spans;
}

export async function startOtlpCollector(port = 0): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const refusals: string[] = [];
  const refuse = (res: ServerResponse, status: number, message: string) => {
    refusals.push(message);
    sendJson(res, status, { code: status, message });
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://collector');
    if (req.method === 'GET' && url.pathname === '/spans') {
      const match = url.searchParams.get('match');
      return sendJson(
        res,
        200,
        match ? spans.filter((s) => s.attributes['gemflow.match.id'] === match) : spans,
      );
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/traces') {
      return sendJson(res, 404, { message: 'the collector serves POST /v1/traces and GET /spans' });
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!type.startsWith('application/json')) {
      req.resume();
      return refuse(res, 415, `content-type ${type || '(none)'}: set OTEL_EXPORTER_OTLP_PROTOCOL=http/json`);
    }
    let body: string;
    try {
      body = await readBody(req, MAX_EXPORT_BYTES);
    } catch (error) {
      return refuse(res, 413, (error as Error).message);
    }
    let received: CollectedSpan[];
    try {
      received = spansOfExport(JSON.parse(body) as ExportTraceServiceRequest);
    } catch (error) {
      return refuse(res, 400, `not an OTLP JSON trace export: ${(error as Error).message}`);
    }
    spans.push(...received);
    if (spans.length > MAX_SPANS) spans.splice(0, spans.length - MAX_SPANS);
    sendJson(res, 200, {});
  };
  const server: Server = createServer(safeHandler('otlp collector', handle));
  const bound = await listen(server, port);
  return {
    endpoint: `http://127.0.0.1:${bound}`,
    spans: () => [...spans],
    refusals: () => [...refusals],
    close: () => closeServer(server),
  };
}
