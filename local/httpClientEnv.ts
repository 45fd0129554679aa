/**
 * The variables `http/requests.http` reads, written by `npm start` next to it once the stack is up: the
 * Functions base URL and the function key of this run. Two files, one per client, both git-ignored and
 * owner-only: `http/.env` for VS Code's REST Client (`{{$dotenv NAME}}`), and
 * `http/http-client.private.env.json` for JetBrains' HTTP Client (its `local` environment; the private file
 * is the one JetBrains keeps out of version control). A key changes only when `.local` is deleted, but the
 * port can change at each start, so both files are rewritten every time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface HttpClientValues {
  baseUrl: string;
  functionKey: string;
}

/** The variable names requests.http uses, in both clients. */
export const HTTP_CLIENT_VARIABLES = {
  baseUrl: 'GEMFLOW_BASE_URL',
  functionKey: 'GEMFLOW_FUNCTION_KEY',
} as const;

export function writeHttpClientEnv(dir: string, values: HttpClientValues): string[] {
  mkdirSync(dir, { recursive: true });
  const dotenv = join(dir, '.env');
  const jetbrains = join(dir, 'http-client.private.env.json');
  const lines = Object.entries(HTTP_CLIENT_VARIABLES).map(
    ([field, name]) => `${name}=${values[field as keyof HttpClientValues]}`,
  );
  writeFileSync(
    dotenv,
    `# Written by npm start for requests.http; rewritten at each start.\n${lines.join('\n')}\n`,
    {
      mode: 0o600,
    },
  );
  const environment = Object.fromEntries(
    Object.entries(HTTP_CLIENT_VARIABLES).map(([field, name]) => [
      name,
      values[field as keyof HttpClientValues],
    ]),
  );
  writeFileSync(jetbrains, `${JSON.stringify({ local: environment }, null, 2)}\n`, { mode: 0o600 });
  return [dotenv, jetbrains];
}
