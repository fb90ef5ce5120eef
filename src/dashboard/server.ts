/**
 * The dashboard's HTTP server (node:http, loopback by default): the page and its assets from this package (no CDN, no
 * build step), the statechart layout, the nodes' batches merged into one SSE stream, the controls its host offers, and
 * a simulator recording to replay.
 *
 *   GET  /                  the page (`?replay=URL` replays a recording; the page also has a file picker)
 *   GET  /assets/*          its script and style
 *   GET  /api/statechart    the node statechart, laid out (statechart.ts)
 *   GET  /api/config        the nodes, the controls available, whether a recording is served
 *   GET  /api/events        SSE: one `FeedBatch` per data line
 *   POST /api/control       `{ action, node?, peer?, key?, value? }`: the host's controls (stop, restart, cut, heal,
 *                           command, transfer)
 *   GET  /recording.json    the recording given at start, if any
 *
 * Sources are in-process feeds (nodeFeed.ts) or other processes' feeds over HTTP (a node's `/dashboard/feed`).
 */
import { readFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNodeMachine } from '../node/machine.js';
import type { NodeFeed } from './nodeFeed.js';
import { downView, type FeedBatch } from './protocol.js';
import { layoutStatechart, type StatechartLayout } from './statechart.js';

export type ControlAction = 'stop' | 'restart' | 'cut' | 'heal' | 'command' | 'transfer';

export interface ControlRequest {
  readonly action: ControlAction;
  readonly node?: string;
  readonly peer?: string;
  readonly key?: string;
  readonly value?: string;
}

/** What the dashboard's host can do to its nodes; the page offers only the actions listed. */
export interface DashboardControls {
  readonly actions: readonly ControlAction[];
  run(request: ControlRequest): Promise<unknown>;
}

export type DashboardSource =
  | { readonly kind: 'feed'; readonly feed: NodeFeed }
  /** A node's feed in another process: `http://host:port/dashboard/feed`, followed and reconnected. */
  | { readonly kind: 'remote'; readonly id: string; readonly url: string };

export interface DashboardOptions {
  readonly host?: string;
  /** 0 for any free port (the default). */
  readonly port?: number;
  readonly sources?: readonly DashboardSource[];
  readonly controls?: DashboardControls;
  /** A simulator recording (its JSON text, or a path to read) to serve at /recording.json. */
  readonly recordingPath?: string;
  readonly title?: string;
}

export interface Dashboard {
  readonly url: string;
  readonly port: number;
  /** Add a source later (e.g. a node that joined). */
  addSource(source: DashboardSource): void;
  close(): Promise<void>;
}

/** Where the page's files are: beside this module in the sources, and copied beside it by `npm run build`. */
function assetsDirectory(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, 'public');
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

let statechart: Promise<StatechartLayout> | null = null;
/** The node statechart's layout, computed once per process. */
export function nodeStatechart(): Promise<StatechartLayout> {
  statechart ??= layoutStatechart(createNodeMachine());
  return statechart;
}

/**
 * Start a dashboard.
 *
 * @example
 * const dashboard = await startDashboard({ port: 8080, sources: [{ kind: 'remote', id: 'n1', url: 'http://127.0.0.1:8001/dashboard/feed' }] });
 * console.log(`dashboard ${dashboard.url}`);
 */
export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1';
  const clients = new Set<ServerResponse>();
  /** The last batch of each node, for clients that connect later. */
  const latest = new Map<string, FeedBatch>();
  const closers: (() => void)[] = [];
  const nodes: string[] = [];

  const broadcast = (batch: FeedBatch): void => {
    latest.set(`${batch.group}/${batch.node}`, batch);
    const line = `data: ${JSON.stringify(batch)}\n\n`;
    for (const client of clients) client.write(line);
  };

  const addSource = (source: DashboardSource): void => {
    if (source.kind === 'feed') {
      const id = source.feed.view()?.id;
      if (id !== undefined && !nodes.includes(id)) nodes.push(id);
      closers.push(source.feed.subscribe(broadcast));
    } else {
      if (!nodes.includes(source.id)) nodes.push(source.id);
      closers.push(followRemote(source.id, source.url, broadcast));
    }
  };
  for (const source of options.sources ?? []) addSource(source);

  const server: Server = createServer((request, response) => {
    void route(request, response).catch((error: Error) => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'DASHBOARD_ERROR', message: error.message } }));
    });
  });

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (request.method === 'GET' && (path === '/' || path === '/index.html' || path.startsWith('/assets/'))) {
      const file = path.startsWith('/assets/') ? normalize(path.slice('/assets/'.length)).replace(/^(\.\.[/\\])+/, '') : 'index.html';
      const body = await readFile(join(assetsDirectory(), file)).catch(() => null);
      if (body === null) return void response.writeHead(404).end('not found');
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
      return;
    }
    if (path === '/favicon.ico') return void response.writeHead(204).end();
    if (request.method === 'GET' && path === '/api/statechart') return json(response, 200, await nodeStatechart());
    if (request.method === 'GET' && path === '/api/config') {
      return json(response, 200, {
        title: options.title ?? 'xraft',
        nodes,
        controls: options.controls?.actions ?? [],
        recording: options.recordingPath === undefined ? null : '/recording.json',
      });
    }
    if (request.method === 'GET' && path === '/recording.json' && options.recordingPath !== undefined) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(await readFile(options.recordingPath));
      return;
    }
    if (request.method === 'GET' && path === '/api/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      response.write(': xraft dashboard\n\n');
      for (const batch of latest.values()) response.write(`data: ${JSON.stringify(batch)}\n\n`);
      clients.add(response);
      request.on('close', () => clients.delete(response));
      return;
    }
    if (request.method === 'POST' && path === '/api/control') {
      const controls = options.controls;
      const body = JSON.parse(await readBody(request)) as ControlRequest;
      if (controls === undefined || !controls.actions.includes(body.action)) return json(response, 404, { error: { code: 'NO_SUCH_CONTROL', message: `no control ${body.action}` } });
      try {
        return json(response, 200, { ok: true, result: (await controls.run(body)) ?? null });
      } catch (error) {
        return json(response, 502, { error: { code: 'CONTROL_FAILED', message: (error as Error).message } });
      }
    }
    json(response, 404, { error: { code: 'NOT_FOUND', message: `no route ${request.method} ${path}` } });
  }

  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port ?? 0, host, resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    addSource,
    async close() {
      for (const close of closers) close();
      for (const client of clients) client.end();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk)).on('end', () => resolve(Buffer.concat(chunks).toString('utf8'))).on('error', reject);
  });
}

/**
 * Follow a node's SSE feed in another process; while it is unreachable, report the node down and retry every
 * `retryMs`. Returns the function that stops following.
 */
export function followRemote(id: string, url: string, deliver: (batch: FeedBatch) => void, retryMs = 500): () => void {
  let stopped = false;
  let current: { destroy(): void } | null = null;
  let retry: NodeJS.Timeout | null = null;
  let wasUp = false;
  const down = (): void => {
    current = null;
    if (stopped) return;
    if (wasUp) {
      wasUp = false;
      deliver({ group: 'default', node: id, at: Date.now(), view: downView('default', id), sent: [], inspections: [] });
    }
    retry = setTimeout(connect, retryMs);
    retry.unref();
  };
  const connect = (): void => {
    if (stopped) return;
    const request = get(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      if (response.statusCode !== 200) return void (response.resume(), down());
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
          if (data === '') continue;
          try {
            wasUp = true;
            deliver(JSON.parse(data) as FeedBatch);
          } catch {
            // A frame that does not parse is skipped; the next one is whole.
          }
        }
      });
      response.on('close', down);
      response.on('error', () => undefined);
    });
    request.on('error', () => (current === request ? down() : undefined));
    current = request;
  };
  connect();
  return () => {
    stopped = true;
    if (retry !== null) clearTimeout(retry);
    current?.destroy();
  };
}
