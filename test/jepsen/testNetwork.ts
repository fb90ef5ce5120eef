/**
 * Test hosts for fault testing: one Linux network namespace per node, joined by a bridge, so that partitions are real
 * (a route that refuses traffic to a peer, one way or both). Addresses come from 198.18.0.0/15, the range set aside
 * for network testing (RFC 2544), one /24 per run so that concurrent runs do not meet; nothing outside the
 * namespaces this run creates is ever addressed.
 *
 * Without root or `ip netns` (containers, macOS), `TestNetwork.create` falls back to loopback with distinct ports and
 * says so: kills and pauses still work, partitions do not.
 */
import { execFileSync } from 'node:child_process';

export interface TestHost {
  readonly id: string;
  /** The address the node listens on and peers reach it at. */
  readonly address: string;
  /** The namespace to run the node in, or null on loopback. */
  readonly namespace: string | null;
}

export class TestNetwork {
  /** Directed links currently refused: "from>to". */
  private readonly blocked = new Set<string>();

  private constructor(
    readonly hosts: readonly TestHost[],
    private readonly bridge: string | null,
    /** Why partitions are unavailable, when they are. */
    readonly limitation: string | null,
  ) {}

  get partitionsAvailable(): boolean {
    return this.limitation === null;
  }

  /** `subnet` (1..254) picks 198.18.<subnet>.0/24 for this run. */
  static create(ids: readonly string[], tag: string, subnet: number): TestNetwork {
    const why = namespacesUnavailable();
    if (why !== null) {
      return new TestNetwork(ids.map((id) => ({ id, address: '127.0.0.1', namespace: null })), null, why);
    }
    const bridge = `${tag}br`;
    const hosts = ids.map((id, i) => ({ id, address: `198.18.${subnet}.${i + 1}`, namespace: `${tag}${i + 1}` }));
    try {
      ip('link', 'add', bridge, 'type', 'bridge');
      ip('addr', 'add', `198.18.${subnet}.254/24`, 'dev', bridge);
      ip('link', 'set', bridge, 'up');
      for (const [i, host] of hosts.entries()) {
        const ns = host.namespace!;
        const veth = `${tag}v${i + 1}`;
        ip('netns', 'add', ns);
        ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
        ip('link', 'set', veth, 'master', bridge);
        ip('link', 'set', veth, 'up');
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up');
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      }
    } catch (error) {
      destroy(bridge, hosts);
      throw error;
    }
    return new TestNetwork(hosts, bridge, null);
  }

  host(id: string): TestHost {
    const host = this.hosts.find((candidate) => candidate.id === id);
    if (host === undefined) throw new Error(`no test host ${id}`);
    return host;
  }

  /** Refuse traffic from `from` to `to` (one way). */
  block(from: string, to: string): void {
    if (!this.partitionsAvailable || this.blocked.has(`${from}>${to}`)) return;
    ip('netns', 'exec', this.host(from).namespace!, 'ip', 'route', 'add', 'prohibit', `${this.host(to).address}/32`);
    this.blocked.add(`${from}>${to}`);
  }

  /** Split the hosts into `side` and the rest, both ways. */
  split(side: readonly string[]): void {
    for (const a of side) {
      for (const { id: b } of this.hosts) {
        if (side.includes(b)) continue;
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  heal(): void {
    for (const link of this.blocked) {
      const [from, to] = link.split('>') as [string, string];
      ip('netns', 'exec', this.host(from).namespace!, 'ip', 'route', 'del', 'prohibit', `${this.host(to).address}/32`);
    }
    this.blocked.clear();
  }

  describeBlocked(): string {
    return [...this.blocked].join(' ') || 'none';
  }

  destroy(): void {
    if (this.bridge !== null) destroy(this.bridge, this.hosts);
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function destroy(bridge: string, hosts: readonly TestHost[]): void {
  for (const host of hosts) {
    if (host.namespace === null) continue;
    try {
      ip('netns', 'del', host.namespace);
    } catch {
      // already gone
    }
  }
  try {
    ip('link', 'del', bridge);
  } catch {
    // already gone
  }
}

/** Null when this process can create namespaces here, otherwise why not. */
function namespacesUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `xjprobe${process.pid % 100000}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return null;
  } catch (error) {
    return `ip netns failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
}
