/**
 * The dashboard of a key-value cluster: it follows each node's feed (`GET /dashboard/feed` on the node's HTTP port)
 * and drives the nodes through their HTTP APIs: cut and heal a link (`POST /admin/test/link` on both ends, a test and
 * demo control that answers loopback requests only), send a command (`PUT /kv/:key` on a running node), transfer
 * leadership (`POST /admin/transfer-leader`, proxied to the leader). The launcher (examples/local-cluster.ts) adds
 * stop and restart, which only the owner of the processes can do.
 */
import { startDashboard, type ControlRequest, type Dashboard, type DashboardControls } from '../../src/dashboard/index.js';
import type { KvNode } from './node.js';

/** The controls that go through the nodes' HTTP APIs, given each node's HTTP address and whether it is running. */
export function httpControls(httpOf: (id: string) => string | undefined, running: () => string[]): DashboardControls['run'] {
  const call = async (id: string, method: string, path: string, body?: string): Promise<unknown> => {
    const http = httpOf(id);
    if (http === undefined) throw new Error(`no HTTP address known for ${id}`);
    const answer = await fetch(`http://${http}${path}`, { method, body, signal: AbortSignal.timeout(8000) });
    const text = await answer.text();
    if (!answer.ok) throw new Error(`${id} answered ${answer.status}: ${text}`);
    return text === '' ? null : (JSON.parse(text) as unknown);
  };
  const anyRunning = (): string => {
    const id = running()[0];
    if (id === undefined) throw new Error('no node is running');
    return id;
  };
  return async (request: ControlRequest) => {
    switch (request.action) {
      case 'cut':
      case 'heal': {
        const { node, peer } = request;
        if (node === undefined || peer === undefined) throw new Error('cut and heal name a node and a peer');
        const cut = request.action === 'cut' ? '1' : '0';
        // Both ends, so that neither hears the other; an end that is down has nothing to cut.
        const ends = [[node, peer], [peer, node]].filter(([from]) => running().includes(from!));
        await Promise.all(ends.map(([from, to]) => call(from!, 'POST', `/admin/test/link?peer=${encodeURIComponent(to!)}&cut=${cut}`)));
        return { [request.action]: [node, peer] };
      }
      case 'command': {
        const key = request.key ?? 'greeting';
        await call(request.node ?? anyRunning(), 'PUT', `/kv/${encodeURIComponent(key)}`, request.value ?? '');
        return { put: key };
      }
      case 'transfer':
        return call(anyRunning(), 'POST', '/admin/transfer-leader', request.node === undefined ? '' : JSON.stringify({ to: request.node }));
      default:
        throw new Error(`${request.action} is not offered here`);
    }
  };
}

/** A dashboard served by one node of the cluster (`npm run kv -- ... --dashboard 127.0.0.1:8080`). */
export async function startKvDashboard(kv: KvNode, address: string): Promise<Dashboard> {
  const at = address.lastIndexOf(':');
  const followed = new Set<string>();
  const dashboard = await startDashboard({
    host: address.slice(0, at),
    port: Number(address.slice(at + 1)),
    title: `xraft kv (served by ${kv.node.id})`,
    controls: {
      actions: ['cut', 'heal', 'command', 'transfer'],
      run: httpControls((id) => kv.httpAddresses.get(id), () => [...followed]),
    },
  });
  // Follow every member whose HTTP address this node has learned (asked of the raft ports the configuration names).
  const follow = (): void => {
    for (const [id, http] of kv.httpAddresses) {
      if (followed.has(id)) continue;
      followed.add(id);
      dashboard.addSource({ kind: 'remote', id, url: `http://${http}/dashboard/feed` });
    }
  };
  follow();
  setInterval(follow, 1000).unref();
  return dashboard;
}
