/** A node's feed as an SSE response (`GET /dashboard/feed` on a node's HTTP port): what a dashboard follows. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeFeed } from './nodeFeed.js';

export function serveFeed(feed: NodeFeed, request: IncomingMessage, response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  response.write(': xraft node feed\n\n');
  const unsubscribe = feed.subscribe((batch) => response.write(`data: ${JSON.stringify(batch)}\n\n`));
  request.on('close', unsubscribe);
}

/** Whether a request comes from this machine: test and demo controls answer nobody else. */
export function fromLoopback(request: IncomingMessage): boolean {
  const address = request.socket.remoteAddress ?? '';
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
