/**
 * The page's calls to the app. Every call sends the function key as `x-functions-key`, the header the
 * Functions host reads (never `?code=`, so the key is in no URL, history or log), and the key lives only in
 * this tab's sessionStorage. A 401 means the key is missing or wrong: the key is forgotten and the page asks
 * for it again.
 */
import { fileNameOf, PART_BYTES, parseContentRange, rangeHeader } from './model/download.js';
import type { MatchMapResponse, MatchPage, MatchStatus, OutputDocument } from './model/types.js';

const KEY_ITEM = 'gemflow.functionKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_ITEM);
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/** Called when the app refuses the key, so the page can ask for it again. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

async function call(
  path: string,
  headers: Record<string, string> = {},
  key = storedKey(),
): Promise<Response> {
  if (!key) throw new ApiError('No function key entered.', 401);
  // `manual`: with Entra sign-in on (App Service Authentication), an ended session answers a redirect to the
  // Microsoft sign-in page, which a data call cannot follow (and the page's CSP would refuse); say what to do.
  const response = await fetch(path, {
    headers: { ...headers, 'x-functions-key': key },
    cache: 'no-store',
    redirect: 'manual',
  });
  if (response.type === 'opaqueredirect') {
    throw new ApiError('Your sign-in has ended: reload the page to sign in again.', 401);
  }
  if (response.status === 401) {
    forgetKey();
    onUnauthorized();
    throw new ApiError('The app refused the function key.', 401);
  }
  if (!response.ok && response.status !== 206) {
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new ApiError(
      await errorMessage(response),
      response.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }
  return response;
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    if (body.error?.message) return body.error.message;
  } catch {
    // Not the API's error envelope.
  }
  return `The app answered ${response.status}${text ? `: ${text.slice(0, 300)}` : '.'}`;
}

async function json<T>(path: string): Promise<T> {
  return (await (await call(path)).json()) as T;
}

/** Checks a key before it is kept: one cheap listing call. */
export async function keyWorks(key: string): Promise<boolean> {
  const response = await fetch('/api/matches?top=1', {
    headers: { 'x-functions-key': key },
    cache: 'no-store',
  });
  return response.status !== 401;
}

export function listMatches(continuationToken?: string, top = 20): Promise<MatchPage> {
  const query = new URLSearchParams({ top: String(top) });
  if (continuationToken) query.set('continuationToken', continuationToken);
  return json<MatchPage>(`/api/matches?${query}`);
}

export function getMatch(id: string): Promise<MatchStatus> {
  return json<MatchStatus>(`/api/matches/${encodeURIComponent(id)}`);
}

export function getMatchMap(id: string): Promise<MatchMapResponse> {
  return json<MatchMapResponse>(`/api/matches/${encodeURIComponent(id)}/map`);
}

function outputPath(id: string, document: OutputDocument): string {
  return `/api/matches/${encodeURIComponent(id)}/outputs/${document}`;
}

/** A JSON document of the run (summary, error, validation report). */
export function getOutputJson<T>(id: string, document: OutputDocument): Promise<T> {
  return json<T>(outputPath(id, document));
}

/** A whole document, in parts of at most PART_BYTES, with the file name the app gives it. */
export async function downloadOutput(
  id: string,
  document: OutputDocument,
  onProgress: (done: number, size: number) => void = () => {},
): Promise<{ blob: Blob; fileName: string }> {
  const parts: Blob[] = [];
  let start = 0;
  let size = Number.POSITIVE_INFINITY;
  let fileName: string = document;
  let type = 'application/octet-stream';
  while (start < size) {
    const response = await call(outputPath(id, document), { range: rangeHeader(start, PART_BYTES) });
    fileName = fileNameOf(response.headers.get('content-disposition'), fileName);
    type = response.headers.get('content-type') ?? type;
    const part = await response.blob();
    parts.push(part);
    const range = parseContentRange(response.headers.get('content-range'));
    if (response.status !== 206 || !range) break; // the whole document in one answer
    size = range.size;
    start = range.end + 1;
    onProgress(start, size);
  }
  return { blob: new Blob(parts, { type }), fileName };
}
