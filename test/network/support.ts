/**
 * Helpers for network tests: free loopback ports, bounded waits on real conditions, a bare HTTP/2 client.
 */
import http2 from 'node:http2';
import net from 'node:net';

/** Ports that were free a moment ago on 127.0.0.1 (the OS picked them). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Poll `condition` every `everyMs` until it holds; throw after `timeoutMs` saying what was awaited. */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not happen within ${timeoutMs} ms${lastError === null ? '' : ` (last error: ${String(lastError)})`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** One HTTP/2 session to `authority` (e.g. `http://127.0.0.1:4001`) for hand-made requests. */
export class RawClient {
  readonly session: http2.ClientHttp2Session;

  constructor(authority: string, options: http2.SecureClientSessionOptions = {}) {
    this.session = http2.connect(authority, options);
    this.session.on('error', () => undefined);
  }

  /** One request; rejects when the stream fails before a response or nothing arrives within `timeoutMs`. */
  request(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<HttpAnswer> {
    return new Promise<HttpAnswer>((resolve, reject) => {
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
      } catch (error) {
        reject(error);
        return;
      }
      let status = 0;
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(new Error(`no answer to ${method} ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      stream.on('response', (response) => (status = Number(response[':status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', (error) => (status === 0 ? reject(error) : undefined));
      stream.on('close', () => {
        clearTimeout(timer);
        if (status === 0) reject(new Error(`stream closed without a response (code ${stream.rstCode})`));
        else resolve({ status, body: Buffer.concat(chunks).toString('utf8') });
      });
      if (body !== undefined) stream.end(body);
    });
  }

  async json<T = unknown>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: T }> {
    const answer = await this.request(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? {} : { 'content-type': 'application/json' }, timeoutMs);
    return { status: answer.status, body: (answer.body === '' ? null : JSON.parse(answer.body)) as T };
  }

  close(): void {
    this.session.destroy();
  }
}
