import { SpanStatusCode } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { describe, expect, it } from 'vitest';
import { REDACTED, RedactingSpanProcessor, redactSecrets } from '../../../shared/telemetry/redact.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dlbSJ9.c2lnbmF0dXJlLXBhcnQ';

describe('redactSecrets', () => {
  it.each([
    ['a SAS signature', 'https://a.blob.core.windows.net/c/b?sv=2024-08-04&se=2026&sig=AbC%2Fd%3D&sp=r'],
    [
      'a Functions key',
      'https://app.azurewebsites.net/runtime/webhooks/durabletask/instances/x?code=k3y-value==',
    ],
    ['an API key parameter', 'https://api.tomtom.com/x?key=gemflow-local-abc&type=y'],
    ['a client secret in a form', 'grant_type=client_credentials&client_secret=s3cr3t-v4lue&scope=x'],
    [
      'an account key',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bm90LWEta2V5;EndpointSuffix=x',
    ],
    ['a TomTom key header (JSON)', '{"tomtom-api-key":"gemflow-local-abc","accept":"json"}'],
    ['a TomTom key header (text)', 'tomtom-api-key: gemflow-local-abc'],
    ['a bearer token', 'Authorization: Bearer abc.def-ghi_jkl'],
    ['a JWT anywhere', `token was ${JWT} in a message`],
    ['a Vault token', 'X-Vault-Token: hvs.CAESIabcdef'],
  ])('removes %s', (_what, text) => {
    const redacted = redactSecrets(text);
    expect(redacted).toContain(REDACTED);
    for (const secret of [
      'AbC%2Fd%3D',
      'k3y-value',
      'gemflow-local-abc',
      's3cr3t-v4lue',
      'bm90LWEta2V5',
      JWT,
    ]) {
      expect(redacted).not.toContain(secret);
    }
    expect(redacted).not.toMatch(/abc\.def-ghi_jkl|hvs\.CAES/);
  });

  it('keeps everything that is not a secret', () => {
    const text = 'GET https://api.tomtom.com/gem/jobs/123?type=road&partitionKey=p1 200, x-request-id: r-1';
    expect(redactSecrets(text)).toBe(text);
    const sas = redactSecrets('https://a/c/b?sv=2024-08-04&sig=abc&sp=r');
    expect(sas).toBe(`https://a/c/b?sv=2024-08-04&sig=${REDACTED}&sp=r`);
  });
});

describe('RedactingSpanProcessor on a real tracer', () => {
  it('rewrites name, attributes, events and status before the exporter sees the span', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      spanProcessors: [new RedactingSpanProcessor(), new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('test').startSpan('GET /c/b?sig=name-secret');
    span.setAttributes({
      'url.full': 'https://a.blob.core.windows.net/c/b?sig=attr-secret',
      'http.request.header.authorization': [`Bearer ${JWT}`],
      'http.response.status_code': 200,
    });
    span.recordException(new Error(`request failed with tomtom-api-key: gemflow-local-event-secret`));
    span.setStatus({ code: SpanStatusCode.ERROR, message: `refused ${JWT}` });
    span.end();
    await provider.forceFlush();

    const [exported] = exporter.getFinishedSpans();
    const text = JSON.stringify({
      name: exported!.name,
      attributes: exported!.attributes,
      events: exported!.events,
      status: exported!.status,
    });
    for (const secret of ['name-secret', 'attr-secret', JWT, 'gemflow-local-event-secret']) {
      expect(text).not.toContain(secret);
    }
    expect(exported!.name).toBe(`GET /c/b?sig=${REDACTED}`);
    expect(exported!.attributes['http.response.status_code']).toBe(200);
    expect(exported!.events[0]!.attributes!['exception.message']).toBe(
      `request failed with tomtom-api-key: ${REDACTED}`,
    );
    expect(exported!.status).toEqual({ code: SpanStatusCode.ERROR, message: `refused ${REDACTED}` });
  });
});
