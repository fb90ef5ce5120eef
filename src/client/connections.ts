/**
 * HTTP/2 sessions to the nodes a client talks to: one persistent session per address, opened on first use and
 * dropped when it closes, fails or is told to go away (the next request opens a new one).
 */
import http2, { type ClientHttp2Session } from 'node:http2';

export interface ClientTlsOptions {
  /** The CA(s) that sign the nodes' certificates (PEM). Default: the system's. */
  readonly ca?: string | Buffer;
  /** A client certificate and key, for nodes that require one (mutual TLS). */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** The name to check the nodes' certificates against, when not their host. */
  readonly servername?: string;
}

/** A request that got no HTTP answer. `sent`: it may have reached the node (false: it certainly did not). */
export class ConnectionFailure extends Error {
  constructor(
    readonly address: string,
    readonly sent: boolean,
    message: string,
  ) {
    super(`${address}: ${message}`);
    this.name = 'ConnectionFailure';
  }
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
}

interface Pooled {
  readonly session: ClientHttp2Session;
  /** Set once the connection (and TLS handshake) is up: a request failing before it never reached the node. */
  connected: boolean;
}

export class Connections {
  private readonly sessions = new Map<string, Pooled>();
  private closed = false;

  constructor(private readonly tls: ClientTlsOptions | undefined) {}

  /** One JSON request; rejects with ConnectionFailure when no answer arrives within `timeoutMs`. */
  request(address: string, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<Answer> {
    if (this.closed) return Promise.reject(new ConnectionFailure(address, false, 'the client is closed'));
    const pooled = this.session(address);
    const sentBefore = pooled.connected;
    return new Promise<Answer>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      let settled = false;
      const finish = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        outcome();
      };
      const timer = setTimeout(() => {
        finish(() => reject(new ConnectionFailure(address, pooled.connected || sentBefore, `no answer within ${timeoutMs} ms`)));
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs);
      const stream = pooled.session.request({
        ':method': method,
        ':path': path,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      });
      let status = 0;
      const chunks: Buffer[] = [];
      stream.on('response', (headers) => (status = Number(headers[':status'] ?? 0)));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () =>
        finish(() => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (status === 0) {
            reject(new ConnectionFailure(address, pooled.connected, 'the stream ended without an answer'));
            return;
          }
          let parsed: unknown = null;
          try {
            parsed = text === '' ? null : JSON.parse(text);
          } catch {
            parsed = text;
          }
          resolve({ status, body: parsed });
        }),
      );
      stream.on('error', (error: Error) => {
        // REFUSED_STREAM: the node did not process it (a GOAWAY, or too many streams).
        const refused = (error as NodeJS.ErrnoException).code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(error.message);
        finish(() => reject(new ConnectionFailure(address, pooled.connected && !refused, error.message)));
      });
      stream.end(payload);
    });
  }

  /** Close every session. Requests in flight fail with ConnectionFailure. */
  close(): void {
    this.closed = true;
    for (const { session } of this.sessions.values()) session.destroy();
    this.sessions.clear();
  }

  private session(address: string): Pooled {
    const known = this.sessions.get(address);
    if (known !== undefined && !known.session.closed && !known.session.destroyed) return known;
    const authority = `${this.tls === undefined ? 'http' : 'https'}://${address}`;
    const session = http2.connect(authority, this.tls === undefined ? {} : { ...this.tls });
    const pooled: Pooled = { session, connected: false };
    const drop = (): void => {
      if (this.sessions.get(address) === pooled) this.sessions.delete(address);
    };
    session.once('connect', () => (pooled.connected = true));
    session.on('error', drop);
    session.on('close', drop);
    session.on('goaway', drop);
    // A session does not keep the process alive; a request's own timer does while it waits.
    session.unref();
    this.sessions.set(address, pooled);
    return pooled;
  }
}
