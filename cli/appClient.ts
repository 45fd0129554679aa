/**
 * The app's HTTP API as the CLI uses it: one match, a page of matches, cancel. Answers are checked against the
 * API's own zod schemas (shared/api/schemas.ts, which the OpenAPI document is generated from), kept loose so a
 * newer app's extra fields (such as `parts` of a partitioned match) reach the caller. Every way a call can fail
 * becomes a CliError that says what to do: nothing answering, the function key refused (naming where the key
 * came from, never the key), a bad request, a server error.
 */
import type { z } from 'zod';
import {
  cancelMatchResponseSchema,
  listMatchesResponseSchema,
  matchStatusSchema,
} from '../shared/api/schemas.js';
import { CliError, EXIT } from './errors.js';
import type { KeySource } from './target.js';

export type MatchStatus = Omit<z.output<typeof matchStatusSchema>, 'parts'> & { parts?: unknown };
export type MatchPage = Omit<z.output<typeof listMatchesResponseSchema>, 'matches'> & {
  matches: MatchStatus[];
};
export type CancelAnswer = z.output<typeof cancelMatchResponseSchema>;

export interface ListQuery {
  status?: string;
  top?: number;
  continuationToken?: string;
}

export interface AppClientOptions {
  baseUrl: string;
  /** Read when the first call is made, so commands that only touch storage never look a key up. */
  key: () => Promise<string>;
  keySource: KeySource;
  unreachableRemedy: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const looseStatus = matchStatusSchema.loose();
const loosePage = listMatchesResponseSchema.extend({ matches: looseStatus.array() });

export class AppClient {
  readonly baseUrl: string;
  private keyPromise: Promise<string> | undefined;

  constructor(private readonly options: AppClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** One match, or undefined when the app has none with this id (yet). */
  async getMatch(id: string): Promise<MatchStatus | undefined> {
    const answer = await this.call('GET', `/api/matches/${encodeURIComponent(id)}`);
    if (answer.status === 404) return undefined;
    return this.parse(answer, looseStatus, `match ${id}`);
  }

  async listMatches(query: ListQuery = {}): Promise<MatchPage> {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.top) params.set('top', String(query.top));
    if (query.continuationToken) params.set('continuationToken', query.continuationToken);
    const suffix = params.size > 0 ? `?${params}` : '';
    return this.parse(await this.call('GET', `/api/matches${suffix}`), loosePage, 'the match list');
  }

  async cancelMatch(id: string): Promise<CancelAnswer> {
    const answer = await this.call('POST', `/api/matches/${encodeURIComponent(id)}/cancel`);
    if (answer.status === 404) {
      throw new CliError('MatchNotFound', EXIT.failed, `The app has no match "${id}".`, {
        remedy: 'List the matches with `gem-flow list`.',
      });
    }
    if (answer.status === 409) {
      throw new CliError('MatchFinished', EXIT.failed, errorMessageOf(answer.body) ?? `${id} has finished.`);
    }
    return this.parse(answer, cancelMatchResponseSchema, `cancel ${id}`);
  }

  private key(): Promise<string> {
    this.keyPromise ??= this.options.key();
    return this.keyPromise;
  }

  private async call(method: string, path: string): Promise<{ status: number; body: unknown }> {
    const headers = { 'x-functions-key': await this.key(), accept: 'application/json' };
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(`${this.baseUrl}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (cause) {
      throw new CliError(
        'AppUnreachable',
        EXIT.connection,
        `Nothing answers at ${this.baseUrl} (${networkReason(cause)}).`,
        { cause, remedy: this.options.unreachableRemedy },
      );
    }
    const text = await response.text();
    const body = parseJson(text);
    if (response.status === 401 || response.status === 403) throw this.keyRefused(response.status);
    if (response.status === 400) {
      throw new CliError('BadRequest', EXIT.usage, `The app refused the request: ${describeApiError(body)}`);
    }
    if (response.status >= 500 || (response.status >= 300 && ![404, 409].includes(response.status))) {
      throw new CliError(
        'AppError',
        EXIT.connection,
        `${method} ${path} answered ${response.status}: ${describeApiError(body) || text.slice(0, 300)}`,
        { remedy: "Look at the app's log (`npm start`'s terminal, or Application Insights on Azure)." },
      );
    }
    return { status: response.status, body };
  }

  private keyRefused(status: number): CliError {
    const { origin, remedy } = this.options.keySource;
    return new CliError(
      'FunctionKeyRefused',
      EXIT.connection,
      `The app at ${this.baseUrl} refused the function key (${status}); the key came from ${origin}.`,
      { remedy },
    );
  }

  private parse<T>(answer: { body: unknown }, schema: z.ZodType<T>, what: string): T {
    const parsed = schema.safeParse(answer.body);
    if (parsed.success) return parsed.data;
    const where = parsed.error.issues[0]?.path.join('.') ?? '';
    throw new CliError(
      'UnexpectedAnswer',
      EXIT.connection,
      `The app's answer for ${what} is not what this CLI reads (at "${where}").`,
      {
        remedy: 'Use the CLI of the same gem-flow version as the app (redeploy, or update this checkout).',
      },
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

/** The API's error envelope (`{error: {message, details}}`) as one line. */
export function describeApiError(body: unknown): string {
  const error = (body as { error?: { message?: unknown; details?: { field?: unknown; reason?: unknown }[] } })
    ?.error;
  if (!error) return '';
  const details = (error.details ?? []).map((d) => `${String(d.field)} ${String(d.reason)}`);
  return [String(error.message ?? ''), ...details].filter(Boolean).join('; ');
}

function errorMessageOf(body: unknown): string | undefined {
  return describeApiError(body) || undefined;
}

/** `ECONNREFUSED`, `ENOTFOUND`, a timeout: what fetch's TypeError hides in its cause. */
export function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error)?.name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
