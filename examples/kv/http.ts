/**
 * The KV example's HTTP/1.1 plumbing, shared by the single-group node and the sharded one: a server that reads each
 * request's body, hands it to a handler with the request's path and query, and writes its answer; errors become JSON
 * `{ "error": { "code", "message", "leaderHint"? } }` with the status they call for.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { DEFAULT_MAX_COMMAND_BYTES, MembershipChangeError } from '../../src/index.js';
import { errorResponse, splitAddress } from '../../src/process/index.js';

/** A response: JSON `body`, or `text` (with its content type when proxied). */
export type Answer = { status: number; body?: unknown; text?: string; type?: string };

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); } // prettier-ignore
}

/** The path and query of a request. */
export interface RequestTarget {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

export type HttpHandler = (request: IncomingMessage, target: RequestTarget, body: string) => Promise<Answer>;

/**
 * Longest request body read: a value must fit in a command (the node's `maxCommandBytes`, left at its default), and a
 * body is held in memory until answered. A longer one is answered 413 without reading the rest.
 */
export const MAX_BODY_BYTES = DEFAULT_MAX_COMMAND_BYTES;

/**
 * Serve `handler` on `address` (host:port); resolves once listening. `take` may answer a request itself (a stream,
 * say) by returning true. `close` drops every connection.
 */
export async function serveHttp(address: string, handler: HttpHandler, take?: (request: IncomingMessage, response: ServerResponse) => boolean) {
  const server = createServer((request, response) => {
    if (take?.(request, response) === true) return;
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_BODY_BYTES) return void chunks.push(chunk);
      if (response.headersSent) return;
      chunks.length = 0;
      // Close the connection after the answer: the rest of the body is not worth reading.
      const error = { code: 'PAYLOAD_TOO_LARGE', message: `request bodies are limited to ${MAX_BODY_BYTES} bytes` };
      response.writeHead(413, { 'content-type': 'application/json', connection: 'close' }).end(JSON.stringify({ error }));
    });
    request.on('end', () => {
      if (response.headersSent) return;
      void toAnswer(() => handler(request, requestTarget(request.url), Buffer.concat(chunks).toString('utf8'))).then(({ status, body, text, type }) => {
        if (status === 204) response.writeHead(204).end();
        else if (text !== undefined) response.writeHead(status, { 'content-type': type ?? 'text/plain; charset=utf-8' }).end(text);
        else response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
  });
  const { host, port } = splitAddress(address);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return {
    close: (): Promise<void> => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A handler's answer, or its failure as a JSON error. */
async function toAnswer(handle: () => Promise<Answer>): Promise<Answer> {
  try {
    return await handle();
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status, body: { error: { code: error.code, message: error.message } } };
    if (error instanceof MembershipChangeError) return { status: 409, body: { error: { code: error.reason, message: error.message } } };
    // A body that is not JSON, or a path with a malformed percent-escape (decodeURIComponent's URIError).
    if (error instanceof SyntaxError || error instanceof URIError) return { status: 400, body: { error: { code: 'BAD_REQUEST', message: error.message } } };
    const { status, body } = errorResponse(error);
    return { status, body };
  }
}

/**
 * The path and query of a request. The usual origin-form target (`/kv/k1?consistency=lease`) is cut at `?` as it
 * is: WHATWG URL parsing of every request was a measurable part of serving one; other forms (absolute, dot segments,
 * backslashes) still get it, for the same normalization as before.
 */
function requestTarget(target = '/'): RequestTarget {
  const query = target.indexOf('?');
  const pathname = query < 0 ? target : target.slice(0, query);
  if (!pathname.startsWith('/') || pathname.includes('/.') || pathname.includes('\\')) return new URL(target, 'http://kv');
  return { pathname, searchParams: new URLSearchParams(query < 0 ? '' : target.slice(query + 1)) };
}
