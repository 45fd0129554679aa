/**
 * HTTP requests below what fetch allows, for the tests of hostile input: exact bytes on a socket (malformed
 * escapes, raw non-ASCII targets, repeated Host headers, which fetch would normalise or refuse to send), and a
 * request whose body is never finished, to prove a server answers without reading it.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status code of the first status line; 0 when the server closed without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `bytes` on a new connection and reads the answer until the server closes it (send `Connection: close`).
 * The connection is not half-closed: Node's server drops a request whose client has ended its side.
 */
export function rawHttp(baseUrl: string, bytes: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = (split === -1 ? text : text.slice(0, split)).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      );
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      resolve({ status, headers, body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}

/** `GET <target>` with `Host: localhost` and the extra header lines given (each ending in CRLF). */
export function rawGet(baseUrl: string, target: string, headerLines = ''): Promise<RawAnswer> {
  return rawHttp(
    baseUrl,
    `GET ${target} HTTP/1.1\r\nHost: localhost\r\n${headerLines}Connection: close\r\n\r\n`,
  );
}

/**
 * POSTs with `headers`, sends `sentBytes` of body, and never finishes it. Resolves with the status once the server
 * answers; rejects when no answer comes within the timeout (an answer that needs the rest of the body).
 */
export function answerBeforeBody(
  url: string,
  headers: Record<string, string>,
  sentBytes: number,
  timeoutMs = 5_000,
): Promise<{ status: number; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms while the body was incomplete`));
    }, timeoutMs);
    request.on('response', (response) => {
      clearTimeout(timer);
      response.resume();
      resolve({ status: response.statusCode ?? 0, sentBytes });
      request.destroy();
    });
    request.on('error', () => {}); // the server closes the connection: writes after that fail, as expected
    request.flushHeaders();
    if (sentBytes > 0) request.write(Buffer.alloc(sentBytes, 0x61));
  });
}
