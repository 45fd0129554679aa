/** Small HTTP helpers shared by the identity and Key Vault stand-ins (the simulator keeps its own). */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Largest request body a stand-in accepts; they only ever receive forms and small JSON documents. */
const MAX_BODY_BYTES = 1 << 20;

export async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    size += buf.length;
    if (size > maxBytes) throw new Error(`request body larger than ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Listens on 127.0.0.1 (never all interfaces: these servers hand out tokens) and returns the bound port. */
export async function listen(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('server did not bind a TCP port');
  return address.port;
}

/** Closes a server including keep-alive sockets, so teardown does not wait for clients' idle timeouts. */
export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Wraps an async handler so a thrown error becomes a 500 instead of an unhandled rejection. */
export function safeHandler(
  name: string,
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent)
        sendJson(res, 500, { error: 'internal_error', error_description: `${name}: ${message}` });
      else res.destroy();
    });
  };
}

/** Counter keyed by a route name, for `counts()` and the `/_admin/counts` route. */
export class RouteCounter {
  private readonly map = new Map<string, number>();
  hit(route: string): void {
    this.map.set(route, (this.map.get(route) ?? 0) + 1);
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.map);
  }
  reset(): void {
    this.map.clear();
  }
}
