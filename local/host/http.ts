/**
 * HTTP triggers as the Functions host serves them: ASP.NET-style route templates under the host.json route
 * prefix, method filters, `authLevel` enforced with host keys (stricter than `func start`, which ignores it),
 * the RpcHttpData the worker would receive, and the worker's `{http}` response turned back into a Node response.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import {
  type BindingMetadata,
  coreState,
  type InvocationLogLine,
  invokeFunction,
  type RpcHttpData,
  type RpcTypedData,
  triggerBinding,
} from './core.js';

// ---------------------------------------------------------------------------------------------- keys

export interface HostKeys {
  /** The host-level `default` function key: opens every `authLevel: 'function'` endpoint. */
  functionKey: string;
  /** The Durable Task extension's system key: `systemKeys.durabletask_extension`. */
  systemKey: string;
  /** The `_master` key: opens everything, including `authLevel: 'admin'` and /admin/*. */
  masterKey: string;
  /**
   * Extension system keys by name, as `az functionapp keys list` lists them under `systemKeys`. Azure names
   * them `<extension>_extension` and accepts on `/runtime/webhooks/<extension>` only that key or the master key
   * (DefaultScriptWebHookProvider.GetKeyName and AuthorizationOptionsExtensions' SystemKeyAuthLevel policy
   * in azure-functions-host).
   */
  systemKeys: Record<string, string>;
}

/** The system key name Azure gives an extension's webhook (`eventgrid` → `eventgrid_extension`). */
export const extensionKeyName = (extension: string): string => `${extension}_extension`.toLowerCase();

/** The extensions whose webhooks the local host serves; each gets its own system key. */
const WEBHOOK_EXTENSIONS = ['durabletask', 'eventgrid'];

const newKey = (): string => randomBytes(30).toString('base64url');

/**
 * Loads the keys from `file` when it exists (so restarts keep them), otherwise generates and saves them. A
 * file from before per-extension keys gets the missing ones added (the durable key stays `systemKey`).
 */
export async function loadOrCreateKeys(file: string | undefined): Promise<HostKeys> {
  const stored = await readStoredKeys(file);
  const systemKey = stored?.systemKey ?? newKey();
  const systemKeys: Record<string, string> = { ...stored?.systemKeys, durabletask_extension: systemKey };
  for (const extension of WEBHOOK_EXTENSIONS) systemKeys[extensionKeyName(extension)] ??= newKey();
  const keys: HostKeys = {
    functionKey: stored?.functionKey ?? newKey(),
    systemKey,
    masterKey: stored?.masterKey ?? newKey(),
    systemKeys,
  };
  if (file && JSON.stringify(stored) !== JSON.stringify(keys)) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  }
  return keys;
}

async function readStoredKeys(file: string | undefined): Promise<HostKeys | undefined> {
  if (!file) return undefined;
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<HostKeys>;
    if (stored.functionKey && stored.systemKey && stored.masterKey) {
      return {
        functionKey: stored.functionKey,
        systemKey: stored.systemKey,
        masterKey: stored.masterKey,
        systemKeys: stored.systemKeys ?? {},
      };
    }
    throw new Error('it lacks functionKey, systemKey or masterKey');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `Cannot read host keys from ${file}: ${(error as Error).message}. Delete the file to generate new keys.`,
    );
  }
}

/** The key a caller presented, from `x-functions-key` or `?code=`, as the host accepts it. */
export function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-functions-key'];
  return (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
}

export function keyMatches(presented: string | undefined, ...accepted: string[]): boolean {
  if (!presented) return false;
  const given = Buffer.from(presented);
  return accepted.some((key) => {
    const expected = Buffer.from(key);
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

export type AuthLevel = 'anonymous' | 'function' | 'admin';

export function authorized(level: AuthLevel, keys: HostKeys, presented: string | undefined): boolean {
  if (level === 'anonymous') return true;
  if (level === 'admin') return keyMatches(presented, keys.masterKey);
  return keyMatches(presented, keys.functionKey, keys.masterKey);
}

// ---------------------------------------------------------------------------------------- templates

/** ASP.NET route constraints the Functions host supports (the common subset). */
const constraints: Record<string, { pattern: string; check?: (value: string) => boolean }> = {
  int: { pattern: '-?\\d+', check: (v) => Math.abs(Number(v)) <= 2 ** 31 },
  long: { pattern: '-?\\d+' },
  alpha: { pattern: '[a-z]+' },
  bool: { pattern: 'true|false' },
  guid: { pattern: '[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}' },
  double: { pattern: '-?\\d+(?:\\.\\d+)?' },
  float: { pattern: '-?\\d+(?:\\.\\d+)?' },
  decimal: { pattern: '-?\\d+(?:\\.\\d+)?' },
  datetime: { pattern: '[^/]+', check: (v) => !Number.isNaN(Date.parse(v)) },
};

export interface CompiledRoute {
  template: string;
  /**
   * Route values by parameter name (as written in the template), or undefined if the path doesn't match. The
   * path is the decoded one routing sees (`decodeRequestPath`).
   */
  match(path: string): Record<string, string> | undefined;
  /** ASP.NET-style precedence per segment (lower wins): literal 1, constrained 2, parameter 3, optional 4, catch-all 5. */
  precedence: number[];
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles `orders/{id:int}/{action?}`, `files/{*rest}`, `{name}.{ext}`… into a matcher. */
export function compileRoute(template: string): CompiledRoute {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const names: string[] = [];
  const checks: ((value: string) => boolean)[] = [];
  const precedence: number[] = [];
  let source = '';
  for (const segment of trimmed === '' ? [] : trimmed.split('/')) {
    const whole = /^\{(\*)?([A-Za-z_][\w]*)(?::([a-z]+))?(\?)?\}$/i.exec(segment);
    if (whole) {
      const [, catchAll, name, constraint, optional] = whole;
      const group = paramGroup(name!, constraint, template, names, checks);
      if (catchAll) {
        source += `(?:/(${'.*'}))?`;
        precedence.push(5);
      } else if (optional) {
        source += `(?:/(${group}))?`;
        precedence.push(4);
      } else {
        source += `/(${group})`;
        precedence.push(constraint ? 2 : 3);
      }
      continue;
    }
    // A segment mixing literals and parameters (`{name}.{ext}`) or a plain literal.
    let segmentSource = '';
    let rest = segment;
    let hasParam = false;
    while (rest.length > 0) {
      const brace = rest.indexOf('{');
      if (brace === -1) {
        segmentSource += escapeRegex(rest);
        break;
      }
      segmentSource += escapeRegex(rest.slice(0, brace));
      const close = rest.indexOf('}', brace);
      const inner = /^([A-Za-z_][\w]*)(?::([a-z]+))?$/i.exec(rest.slice(brace + 1, close));
      if (close === -1 || !inner) {
        throw new Error(`Invalid route template "${template}": cannot parse "${segment}".`);
      }
      segmentSource += `(${paramGroup(inner[1]!, inner[2], template, names, checks, true)})`;
      hasParam = true;
      rest = rest.slice(close + 1);
    }
    source += `/${segmentSource}`;
    precedence.push(hasParam ? 2 : 1);
  }
  const regex = new RegExp(`^${source}/?$`, 'i');
  return {
    template,
    precedence,
    match(path) {
      const m = regex.exec(path === '/' ? '' : path);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      // `path` is decoded already (decodeRequestPath, as Kestrel hands it to routing): values are taken as is.
      for (let i = 0; i < names.length; i++) {
        const value = m[i + 1];
        if (value === undefined) continue; // an optional parameter that is absent is not a route value
        if (!checks[i]!(value)) return undefined;
        params[names[i]!] = value;
      }
      return params;
    },
  };
}

function paramGroup(
  name: string,
  constraint: string | undefined,
  template: string,
  names: string[],
  checks: ((value: string) => boolean)[],
  inSegment = false,
): string {
  names.push(name);
  if (!constraint) {
    checks.push(() => true);
    return inSegment ? '[^/]+?' : '[^/]+';
  }
  const known = constraints[constraint.toLowerCase()];
  if (!known) {
    throw new Error(
      `Route template "${template}" uses the constraint ":${constraint}", which the local host doesn't support; ` +
        `use one of ${Object.keys(constraints).join(', ')} or validate in the function.`,
    );
  }
  checks.push(known.check ?? (() => true));
  return known.pattern;
}

/** Lexicographic precedence: more specific templates are tried first, as ASP.NET routing does. */
function comparePrecedence(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < Math.max(a.precedence.length, b.precedence.length); i++) {
    const diff = (a.precedence[i] ?? 0) - (b.precedence[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

// ------------------------------------------------------------------------------------------- routing

export interface HttpFunctionRoute {
  functionName: string;
  route: CompiledRoute;
  /** Upper-case methods; undefined = any method. */
  methods: string[] | undefined;
  authLevel: AuthLevel;
}

const reservedPrefixes = ['admin', 'runtime'];

/** Collects the http-triggered registrations as routes under `routePrefix`. */
export function collectHttpRoutes(routePrefix: string): HttpFunctionRoute[] {
  const routes: HttpFunctionRoute[] = [];
  for (const registration of coreState.registrations.values()) {
    const trigger = triggerBinding(registration);
    if (trigger.type.toLowerCase() !== 'httptrigger') continue;
    const name = registration.metadata.name;
    const local = typeof trigger.route === 'string' && trigger.route !== '' ? trigger.route : name;
    const full = [routePrefix, local]
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/');
    if (reservedPrefixes.includes(full.split('/')[0]!.toLowerCase())) {
      throw new Error(
        `Function "${name}" uses the route "${full}", but routes starting with admin/ or runtime/ are reserved by the Functions host; choose another route.`,
      );
    }
    const methods = Array.isArray(trigger.methods)
      ? (trigger.methods as string[]).map((m) => m.toUpperCase())
      : undefined;
    routes.push({
      functionName: name,
      route: compileRoute(full),
      methods: methods?.length ? methods : undefined,
      authLevel: parseAuthLevel(trigger, name),
    });
  }
  return routes.sort((a, b) => comparePrecedence(a.route, b.route));
}

function parseAuthLevel(trigger: BindingMetadata, functionName: string): AuthLevel {
  const level = String(trigger.authLevel ?? 'function').toLowerCase();
  if (level === 'anonymous' || level === 'function' || level === 'admin') return level;
  throw new Error(`Function "${functionName}" has authLevel "${level}"; use anonymous, function or admin.`);
}

export function findRoute(
  routes: HttpFunctionRoute[],
  path: string,
  method: string,
): { route: HttpFunctionRoute; params: Record<string, string> } | undefined {
  for (const route of routes) {
    const params = route.route.match(path);
    // A route that matches the path but not the method is skipped: Azure answers 404, not 405.
    if (params && (!route.methods || route.methods.includes(method))) return { route, params };
  }
  return undefined;
}

// ------------------------------------------------------------------------------------- request/response

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`Request body exceeds the limit of ${limit} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).`);
  }
}

/**
 * Reads the body the first time it is called, and hands back the same bytes after; throws BodyTooLargeError.
 * Handlers call it only once the request is authorised, so a refused request's body is never read (the
 * Functions host checks the key before the invocation reads the body: azure-functions-host,
 * src/WebJobs.Script.WebHost/Middleware/FunctionInvocationMiddleware.cs, GetResultAsync).
 */
export type BodyReader = () => Promise<Buffer>;

export function bodyReader(req: IncomingMessage, limit: number): BodyReader {
  let read: Promise<Buffer> | undefined;
  return () => {
    read ??= readBody(req, limit);
    return read;
  };
}

/**
 * Reads the whole body, refusing more than `limit` bytes: a declared Content-Length before reading anything
 * (Kestrel's Http1ContentLengthMessageBody.OnReadStarting), a chunked body as soon as it passes the limit.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The RpcHttpData the host sends to the worker for this request. */
export function toRpcHttpRequest(
  req: IncomingMessage,
  url: URL,
  params: Record<string, string>,
  body: Buffer,
): RpcHttpData {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  return {
    method: req.method ?? 'GET',
    url: url.toString(),
    headers,
    query,
    params,
    body: { bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) },
  };
}

interface RpcCookie {
  name?: string;
  value?: string;
  domain?: { value: string };
  path?: { value: string };
  expires?: { value: { seconds: number } };
  secure?: { value: boolean };
  httpOnly?: { value: boolean };
  sameSite?: string;
  maxAge?: { value: number };
}

function toSetCookie(cookie: RpcCookie): string {
  const parts = [`${cookie.name}=${cookie.value ?? ''}`];
  if (cookie.domain) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path) parts.push(`Path=${cookie.path.value}`);
  if (cookie.expires) parts.push(`Expires=${new Date(cookie.expires.value.seconds * 1000).toUTCString()}`);
  if (cookie.maxAge) parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  const sameSite = { lax: 'Lax', strict: 'Strict', explicitNone: 'None' }[cookie.sameSite ?? ''];
  if (sameSite) parts.push(`SameSite=${sameSite}`);
  return parts.join('; ');
}

function typedDataBytes(data: RpcTypedData | undefined): Buffer {
  if (!data) return Buffer.alloc(0);
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.string !== undefined) return Buffer.from(data.string);
  if (data.json !== undefined) return Buffer.from(data.json);
  return Buffer.alloc(0);
}

/** Writes the worker's `{http}` return value (status, headers, cookies, body) to the Node response. */
export function writeRpcHttpResponse(res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) {
    // The function produced no HTTP response at all.
    res.writeHead(204).end();
    return;
  }
  const status = Number(http.statusCode ?? 200);
  for (const [name, value] of Object.entries(http.headers ?? {})) {
    // Headers.entries() joins Set-Cookie values; cookies set via `cookies` are written below instead.
    if (name.toLowerCase() === 'set-cookie')
      res.appendHeader('set-cookie', value.split(/,(?=\s*[^;,=\s]+=)/));
    else res.setHeader(name, value);
  }
  for (const cookie of (http.cookies ?? []) as RpcCookie[])
    res.appendHeader('set-cookie', toSetCookie(cookie));
  const body = typedDataBytes(http.body);
  res.statusCode = status;
  res.end(status === 204 || status === 304 || status === 205 ? undefined : body);
}

/**
 * Answers without reading the request body, and closes the connection after the answer: Node then stops
 * reading, so an unread body is neither buffered nor drained to its end.
 */
export function refuseUnread(res: ServerResponse, status: number, message?: string): void {
  const headers: Record<string, string> = { connection: 'close' };
  if (message) headers['content-type'] = 'text/plain; charset=utf-8';
  res.writeHead(status, headers).end(message);
}

export interface HttpDispatchOptions {
  keys: HostKeys;
  log: (line: string) => void;
  invocationLog: (line: InvocationLogLine) => void;
}

/** Invokes the matched function through the library's InvocationModel and writes its response. */
export async function dispatchHttp(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  body: BodyReader,
  matched: { route: HttpFunctionRoute; params: Record<string, string> },
  options: HttpDispatchOptions,
): Promise<void> {
  const { route, params } = matched;
  if (!authorized(route.authLevel, options.keys, presentedKey(req, url))) {
    refuseUnread(res, 401);
    return;
  }
  const result = await invokeFunction(
    route.functionName,
    { http: toRpcHttpRequest(req, url, params, await body()) },
    { log: options.invocationLog },
  );
  if (result.error) {
    const error = result.error as Error;
    options.log(
      `Executed '${route.functionName}' (Failed, Id=${result.invocationId}): ${error?.stack ?? String(error)}`,
    );
    // Like Azure: the caller learns that it failed, not how (no message, no stack).
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`Function '${route.functionName}' failed (invocation ${result.invocationId}). See the host log.`);
    return;
  }
  writeRpcHttpResponse(res, result.returnValue?.http);
}
