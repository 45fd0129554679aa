/**
 * Secrets never reach an exported span. The app keeps them out of what it records (the TomTom key and the
 * tokens travel in headers, which core-rest-pipeline's tracing policy does not record, and it records URLs
 * with query values removed), but spans also come from instrumentations the app does not control (the HTTP
 * client instrumentation records full URLs: a SAS `sig=`, the `code=` key of a Functions URL), from exception
 * messages and stacks. `RedactingSpanProcessor` rewrites the name, attributes, events and status of every span
 * as it ends, before any exporter sees it, replacing each value of a known secret shape.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import type { Span, SpanProcessor } from '@opentelemetry/sdk-trace-node';

export const REDACTED = 'REDACTED';

/** Query or form parameters whose value is a credential: SAS signature, Functions key, API keys, tokens. */
const SECRET_PARAMETERS =
  /([?&;]|^)(sig|code|key|api[-_]?key|subscription[-_]key|token|access_token|refresh_token|id_token|client_secret|client_assertion|password|secret)=([^&#\s"'<>]+)/gi;
/** Connection-string parts that carry an account key or a SAS. */
const CONNECTION_STRING_SECRETS = /\b(AccountKey|SharedAccessKey|SharedAccessSignature)=([^;"'\s]+)/gi;
/** Header-shaped pairs whose value is a credential, as JSON (`"name":"value"`) or text (`name: value`). */
const SECRET_HEADERS =
  /\b(tomtom-api-key|x-functions-key|x-vault-token|x-identity-header|x-gemflow-signature|x-ms-encryption-key)(["']?\s*[:=]\s*["']?)([^"',\s}]+)/gi;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g;
/** JWTs (base64url JSON header and payload) and Vault tokens, wherever they appear. */
const TOKEN_SHAPES = [/eyJ[\w-]{10,}\.[\w-]{10,}\.[\w-]*/g, /\bhv[sbr]\.[A-Za-z0-9_-]{4,}/g];

/** `text` with every value of a known secret shape replaced by `REDACTED`; the rest is kept as it was. */
export function redactSecrets(text: string): string {
  let redacted = text
    .replace(SECRET_PARAMETERS, (_all, lead: string, name: string) => `${lead}${name}=${REDACTED}`)
    .replace(CONNECTION_STRING_SECRETS, (_all, name: string) => `${name}=${REDACTED}`)
    .replace(SECRET_HEADERS, (_all, name: string, separator: string) => `${name}${separator}${REDACTED}`)
    .replace(BEARER, (_all, scheme: string) => `${scheme} ${REDACTED}`);
  for (const shape of TOKEN_SHAPES) redacted = redacted.replace(shape, REDACTED);
  return redacted;
}

function redactValue(value: AttributeValue): AttributeValue {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value))
    return value.map((item) => (typeof item === 'string' ? redactSecrets(item) : item)) as AttributeValue;
  return value;
}

/** The attributes whose redacted value differs from the recorded one, with their redacted value. */
export function redactedAttributes(attributes: Attributes): Attributes {
  const changed: Attributes = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const redacted = redactValue(value);
    if (JSON.stringify(redacted) !== JSON.stringify(value)) changed[name] = redacted;
  }
  return changed;
}

/** Redacts each span while it can still be changed (`onEnding`, before `onEnd` hands it to exporters). */
export class RedactingSpanProcessor implements SpanProcessor {
  onStart(): void {}
  onEnding(span: Span): void {
    const name = redactSecrets(span.name);
    if (name !== span.name) span.updateName(name);
    span.setAttributes(redactedAttributes(span.attributes));
    for (const event of span.events) {
      // Events are recorded already; their objects are the span's own, so they are rewritten in place.
      const writable = event as { name: string; attributes?: Attributes };
      writable.name = redactSecrets(writable.name);
      if (writable.attributes) Object.assign(writable.attributes, redactedAttributes(writable.attributes));
    }
    if (span.status.message) span.setStatus({ ...span.status, message: redactSecrets(span.status.message) });
  }
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
