/** Shared by the host contract tests: the fixture app, temp dirs, JSON-lines records, polling. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const fixtureApp = resolve(__dirname, '../../fixtures/host-app');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `gemflow-host-${prefix}-`));
}

/** The records a fixture function appended to `<dir>/<file>` (one JSON document per line). */
export function records<T = Record<string, unknown>>(dir: string, file: string): T[] {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/** Polls until `check` returns a value (not undefined); the timeout only bounds a failing test. */
export async function waitFor<T>(check: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The storage the offline stack's globalSetup exported (Azurite over https). */
export function storageConnectionString(): string {
  const value = process.env.AzureWebJobsStorage;
  if (!value)
    throw new Error('AzureWebJobsStorage is not set; run these tests through vitest (integration project).');
  return value;
}
