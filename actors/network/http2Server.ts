/**
 * The receiving side of `Http2Network`: an HTTP/2 server (optionally TLS, mutual TLS) that routes requests by method
 * and path. A buffered route gets the whole body, read up to `maxBodyBytes` (413 beyond) within `requestTimeoutMs`
 * (408 after), and answers JSON or text with its content type; a raw route gets the stream itself. Every 4xx is a
 * refusal: answered with a JSON body `{ error: { code, message } }` and reported to `refused`, so that the network
 * can count and log it.
 */
import http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Http2TlsOptions } from './Http2Network.js';
import { JSON_HEADERS } from './http2Paths.js';

/** Why `listen` failed, with a stable code. */
export class NetworkListenError extends Error {
  constructor(
    readonly code: 'PORT_IN_USE' | 'ADDRESS_UNAVAILABLE' | 'PERMISSION_DENIED' | 'LISTEN_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NetworkListenError';
  }
}

/** A refused request: an HTTP status and a stable code. */
export interface RequestRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** What a buffered route handler gets. */
export interface RouteRequest {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  /** Subject CN of the client certificate, when the connection has one. */
  readonly peerCommonName: string | null;
}

/** A JSON answer, or a text one when it names its content type (Prometheus metrics, for example). */
export type RouteResponse =
  | {
      readonly status: number;
      /** Serialized with JSON.stringify; omit for an empty body. */
      readonly body?: unknown;
      readonly contentType?: undefined;
    }
  | {
      readonly status: number;
      /** Sent as is. */
      readonly body: string;
      readonly contentType: string;
    };

export type RouteHandler = (request: RouteRequest) => RouteResponse | Promise<RouteResponse>;
export type RawRouteHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;

/** A 4xx the server answered: the refusal, the request when its body was read, and the client's IP address. */
export interface AnsweredRefusal extends RequestRefusal {
  readonly request: RouteRequest | null;
  readonly remoteAddress: string;
  /** Who the refused request or stream says it comes from, when it says so and its body was not read. */
  readonly claimedFrom: string | null;
}

export interface RouteServerConfig {
  readonly tls: Http2TlsOptions | undefined;
  readonly maxBodyBytes: number;
  readonly requestTimeoutMs: number;
  readonly log: ((line: string) => void) | undefined;
  /** Called for every 4xx answered, after it is sent. */
  readonly refused: (refusal: AnsweredRefusal) => void;
}

type Route = { readonly kind: 'buffered'; readonly handler: RouteHandler } | { readonly kind: 'raw'; readonly handler: RawRouteHandler };

const { NGHTTP2_CANCEL } = http2.constants;
/** The receive window of each stream (and twice that of each session). */
const WINDOW_BYTES = 16 * 2 ** 20;

export class RouteServer {
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly routes = new Map<string, Route>();

  constructor(private readonly config: RouteServerConfig) {
    // Many pipelined requests per session are the point; the default of 100 concurrent streams would cap them. A peer's
    // frames all travel on one stream: a 64 KiB window would stall a burst of appends until the next WINDOW_UPDATE.
    const settings = { maxConcurrentStreams: 4096, initialWindowSize: WINDOW_BYTES };
    const tls = config.tls;
    this.server =
      tls === undefined
        ? http2.createServer({ settings })
        : http2.createSecureServer({
            settings,
            cert: tls.cert,
            key: tls.key,
            ca: tls.ca,
            requestCert: true,
            rejectUnauthorized: tls.requireClientCert ?? true,
            allowHTTP1: false,
          });
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      session.setLocalWindowSize(2 * WINDOW_BYTES);
      session.on('error', () => undefined);
      session.on('close', () => this.sessions.delete(session));
    });
    this.server.on('stream', (stream, headers) => this.handleStream(stream, headers));
    this.server.on('sessionError', () => undefined);
    this.server.on('tlsClientError', () => undefined);
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('the network is not listening');
    return (address as AddressInfo).port;
  }

  /** Start accepting connections. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(host: string, port: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        reject(listenError(error, host, port));
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        this.server.on('error', (error) => this.config.log?.(`server error: ${error.message}`));
        resolve(this.port);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, host);
    });
  }

  route(method: string, path: string, handler: RouteHandler): void {
    this.routes.set(`${method} ${path}`, { kind: 'buffered', handler });
  }

  rawRoute(method: string, path: string, handler: RawRouteHandler): void {
    this.routes.set(`${method} ${path}`, { kind: 'raw', handler });
  }

  /** Stop listening and close every session; sessions that stay open are destroyed after 200 ms. */
  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      for (const session of this.sessions) session.close();
      // Peers that keep their sessions open (or are paused) must not hold the shutdown.
      const force = setTimeout(() => {
        for (const session of this.sessions) session.destroy();
      }, 200);
      force.unref();
    });
  }

  private handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const method = headers[':method'] ?? '';
    const rawPath = headers[':path'] ?? '';
    const queryAt = rawPath.indexOf('?');
    const path = queryAt === -1 ? rawPath : rawPath.slice(0, queryAt);
    const route = this.routes.get(`${method} ${path}`);
    if (route === undefined) {
      const known = [...this.routes.keys()].some((key) => key.slice(key.indexOf(' ') + 1) === path);
      this.answer(stream, known ? refuse({ status: 405, code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${path}` })
        : refuse({ status: 404, code: 'NOT_FOUND', message: `no route ${path.slice(0, 100)}` }));
      return;
    }
    if (route.kind === 'raw') {
      route.handler(stream, headers);
      return;
    }
    const { maxBodyBytes } = this.config;
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    const tooLarge = (): void => {
      refused = true;
      chunks.length = 0;
      this.answer(stream, refuse({ status: 413, code: 'TOO_LARGE', message: `bodies are limited to ${maxBodyBytes} bytes` }));
    };
    stream.setTimeout(this.config.requestTimeoutMs, () => {
      this.answer(stream, refuse({ status: 408, code: 'REQUEST_TIMEOUT', message: 'the body did not arrive in time' }));
      stream.close(NGHTTP2_CANCEL);
    });
    if (Number(headers['content-length'] ?? 0) > maxBodyBytes) tooLarge();
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (refused) {
        // The answer is out; the rest of the body is read and dropped, which keeps the session healthy (resetting
        // the stream makes the client's DATA frames count as invalid and gets the whole session torn down). A body
        // far beyond the limit is not worth reading: reset it.
        if (size > 4 * maxBodyBytes) stream.close(NGHTTP2_CANCEL);
        return;
      }
      if (size > maxBodyBytes) tooLarge();
      else chunks.push(chunk);
    });
    stream.on('end', () => {
      if (refused || stream.destroyed) return;
      const socket = stream.session?.socket as TLSSocket | undefined;
      const request: RouteRequest = {
        method,
        path,
        query: new URLSearchParams(queryAt === -1 ? '' : rawPath.slice(queryAt + 1)),
        headers,
        body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
        peerCommonName: commonName(socket),
      };
      let response: RouteResponse | Promise<RouteResponse>;
      try {
        response = route.handler(request);
      } catch (error) {
        response = internalError(error);
      }
      if (response instanceof Promise) {
        response.then(
          (settled) => this.answer(stream, settled, request),
          (error: unknown) => this.answer(stream, internalError(error), request),
        );
      } else this.answer(stream, response, request);
    });
  }

  /**
   * Answer a request once (a refusal may be sent before its body has fully arrived). Raw routes answer through it
   * too, so that their refusals are counted and logged like any other (`claimedFrom`: the sender their headers name).
   */
  answer(stream: ServerHttp2Stream, response: RouteResponse, request: RouteRequest | null = null, claimedFrom: string | null = null): void {
    if (stream.destroyed || stream.headersSent) return;
    // Read before the answer: a stream that ends may lose its session.
    const remoteAddress = stream.session?.socket?.remoteAddress ?? 'an unknown address';
    const body = response.contentType !== undefined ? response.body : response.body === undefined ? undefined : JSON.stringify(response.body);
    const headers = response.contentType !== undefined ? { 'content-type': response.contentType } : body === undefined ? {} : JSON_HEADERS;
    try {
      stream.respond({ ':status': response.status, ...headers }, { endStream: body === undefined });
      if (body !== undefined) stream.end(body);
      // A request body still arriving is drained by the data handler (see handleStream).
      if (!stream.readableEnded) stream.resume();
    } catch {
      stream.close(NGHTTP2_CANCEL);
    }
    if (response.status >= 400 && response.status < 500) this.config.refused({ ...refusalOf(response), request, remoteAddress, claimedFrom });
  }
}

/** A refusal as the response that carries it. */
export function refuse(refusal: RequestRefusal): RouteResponse {
  return { status: refusal.status, body: { error: { code: refusal.code, message: refusal.message } } };
}

/** The refusal a 4xx response carries: its `{ error: { code, message } }` body, or its status alone. */
function refusalOf(response: RouteResponse): RequestRefusal {
  const error = (response.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    status: response.status,
    code: typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`,
    message: typeof error?.message === 'string' ? error.message : '',
  };
}

function internalError(error: unknown): RouteResponse {
  return { status: 500, body: { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } } };
}

/** Subject CN of the client certificate on `stream`'s connection, when it has one. */
export function peerCommonName(stream: ServerHttp2Stream): string | null {
  return commonName(stream.session?.socket as TLSSocket | undefined);
}

function commonName(socket: TLSSocket | undefined): string | null {
  if (socket === undefined || typeof socket.getPeerCertificate !== 'function') return null;
  const subject = socket.getPeerCertificate()?.subject as { CN?: string | string[] } | undefined;
  const name = subject?.CN;
  return typeof name === 'string' ? name : null;
}

function listenError(error: NodeJS.ErrnoException, host: string, port: number): NetworkListenError {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new NetworkListenError('PORT_IN_USE', `cannot listen on ${where}: the port is already in use`, { cause: error });
    case 'EADDRNOTAVAIL':
      return new NetworkListenError('ADDRESS_UNAVAILABLE', `cannot listen on ${where}: no such local address`, { cause: error });
    case 'EACCES':
      return new NetworkListenError('PERMISSION_DENIED', `cannot listen on ${where}: permission denied`, { cause: error });
    default:
      return new NetworkListenError('LISTEN_FAILED', `cannot listen on ${where}: ${error.message}`, { cause: error });
  }
}
