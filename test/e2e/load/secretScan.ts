/**
 * A leak scanner for the secrets test: searches text for known secret values and secret shapes, and collects
 * the text of everything the app stored or printed. Findings name the secret and the source, never the value.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TableClient, TableServiceClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalApp } from '../../../local/app.js';
import type { CollectedSpan } from '../../../local/standins/otlpCollector.js';

export interface KnownSecret {
  /** What it is, e.g. "API key"; shown in findings instead of the value. */
  name: string;
  value: string;
}

export interface SecretShape {
  name: string;
  pattern: RegExp;
}

/** Bearer tokens (JWTs: base64url header and payload, both JSON objects so they start with eyJ) and Vault wrapping tokens. */
export const SECRET_SHAPES: SecretShape[] = [
  { name: 'JWT-shaped bearer token', pattern: /eyJ[\w-]{10,}\.[\w-]{10,}\./ },
  { name: 'Vault wrapped token (hvs.)', pattern: /hvs\.[A-Za-z0-9]/ },
];

/**
 * The secrets of a running local app's stack: its TomTom API keys, every PDG service principal secret and
 * storage account key, the notification signing secret, the managed identity header secret and every access
 * token the identity stand-in issued so far (read this after the runs).
 */
export function stackSecrets(app: LocalApp): KnownSecret[] {
  const info = app.stack.info;
  return [
    { name: 'TomTom API key', value: info.apiKey },
    { name: 'PDG-only TomTom API key', value: info.apiKeyWithoutGem },
    ...info.pdgStorages.map((s) => ({
      name: `PDG service principal secret (${s.id})`,
      value: s.servicePrincipal.clientSecret,
    })),
    ...info.pdgStorages.map((s) => ({
      name: `PDG storage account key (${s.id})`,
      value: /AccountKey=([^;]+)/.exec(s.blobConnectionString)![1]!,
    })),
    { name: 'notification signing secret', value: app.stack.settings.NOTIFY_SIGNING_SECRET! },
    { name: 'managed identity header secret', value: info.identityHeader },
    ...app.stack.identity.issuedTokens().map((value, i) => ({ name: `issued access token #${i}`, value })),
  ];
}

export interface Finding {
  source: string;
  secret: string;
  offset: number;
}

export interface TextSource {
  source: string;
  text: string;
}

export function scan(sources: TextSource[], secrets: KnownSecret[], shapes = SECRET_SHAPES): Finding[] {
  const findings: Finding[] = [];
  for (const { source, text } of sources) {
    for (const secret of secrets) {
      if (secret.value.length < 8) throw new Error(`"${secret.name}" is too short to scan for reliably`);
      const offset = text.indexOf(secret.value);
      if (offset >= 0) findings.push({ source, secret: secret.name, offset });
    }
    for (const shape of shapes) {
      const match = shape.pattern.exec(text);
      if (match) findings.push({ source, secret: shape.name, offset: match.index });
    }
  }
  return findings;
}

/** Every row of every table in the account, one source per table (string properties concatenated raw). */
export async function tableSources(connectionString: string): Promise<TextSource[]> {
  const service = TableServiceClient.fromConnectionString(connectionString);
  const sources: TextSource[] = [];
  for await (const table of service.listTables()) {
    const name = table.name!;
    const client = TableClient.fromConnectionString(connectionString, name);
    const parts: string[] = [];
    let rows = 0;
    for await (const entity of client.listEntities()) {
      rows++;
      for (const [key, value] of Object.entries(entity)) {
        parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      }
    }
    sources.push({ source: `table ${name} (${rows} rows)`, text: parts.join('\n') });
  }
  return sources;
}

/** Every blob in every container of the account; bytes read as latin1 so binary files keep ASCII runs intact. */
export async function blobSources(connectionString: string, label: string): Promise<TextSource[]> {
  const service = BlobServiceClient.fromConnectionString(connectionString);
  const sources: TextSource[] = [];
  for await (const container of service.listContainers()) {
    const client = service.getContainerClient(container.name);
    for await (const blob of client.listBlobsFlat({ includeMetadata: true })) {
      const bytes = await client.getBlobClient(blob.name).downloadToBuffer();
      sources.push({
        source: `${label} blob ${container.name}/${blob.name}`,
        text: `${JSON.stringify(blob.metadata ?? {})}\n${bytes.toString('latin1')}`,
      });
    }
  }
  return sources;
}

/** Every file under `dir` (the host's state directory), except those matched by `skip`. */
export function fileSources(dir: string, skip: (path: string) => boolean = () => false): TextSource[] {
  const sources: TextSource[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current)) {
      const path = join(current, entry);
      if (skip(path)) continue;
      if (statSync(path).isDirectory()) walk(path);
      else
        sources.push({ source: `file ${relative(dir, path)}`, text: readFileSync(path).toString('latin1') });
    }
  };
  walk(dir);
  return sources;
}

/** Every span the collector received, one source per trace: names, attributes, events and status as sent. */
export function spanSources(spans: CollectedSpan[]): TextSource[] {
  const byTrace = new Map<string, CollectedSpan[]>();
  for (const span of spans) byTrace.set(span.traceId, [...(byTrace.get(span.traceId) ?? []), span]);
  return [...byTrace].map(([traceId, traceSpans]) => ({
    source: `trace ${traceId} (${traceSpans.length} spans)`,
    text: traceSpans.map((span) => JSON.stringify(span)).join('\n'),
  }));
}
