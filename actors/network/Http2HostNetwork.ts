/**
 * The host network over HTTP/2: one endpoint per process for every Raft group it hosts (see HostNetwork.ts). It is
 * `Http2Network`'s transport (http2Endpoint.ts): one session and one long-lived stream per peer host, every message of
 * one turn for that peer in one frame whatever its group, and the host's signals (liveness beats, quiesce and wake
 * notices) in the same frames. Each frame is validated whole before anything is delivered: every message against
 * the wire schema, every group id (1 to 256 characters), every signal against `hostSignalSchema`.
 *
 * @example
 * const network = new Http2HostNetwork({ id: 'n1', clusterId: 'kv', listen: { port: 4001 },
 *   peers: { n2: '10.0.0.2:4001', n3: '10.0.0.3:4001' } });
 * await network.listen();
 * const host = new RaftHost({ id: 'n1', hosts: ['n1', 'n2', 'n3'], network, ... });
 */
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { HostNetwork, hostSignalSchema, MAX_GROUP_ID_LENGTH, type GroupId, type HostSignal } from './HostNetwork.js';
import type { Http2NetworkOptions, Http2NetworkStats } from './Http2Network.js';
import { Http2Endpoint, type SenderCredentials } from './http2Endpoint.js';
import type { RawRouteHandler, RequestRefusal, RouteHandler } from './http2Server.js';

export class Http2HostNetwork extends HostNetwork {
  readonly id: NodeId;
  readonly stats: Http2NetworkStats;
  private readonly endpoint: Http2Endpoint<HostSignal>;

  constructor(private readonly options: Http2NetworkOptions) {
    super();
    this.id = options.id;
    this.endpoint = new Http2Endpoint<HostSignal>(options, {
      running: () => this.attached,
      hostsGroup: (group) => group.length > 0 && group.length <= MAX_GROUP_ID_LENGTH,
      admit: (from, credentials) => this.admitSender(from, credentials),
      deliver: (from, group, message) => this.received(from, group, message),
      signalSchema: hostSignalSchema,
      signalled: (from, signal) => this.signalled(from, signal),
      unreachable: (peer) => this.unreachable(peer),
    });
    this.stats = this.endpoint.stats;
    for (const [peer, address] of Object.entries(options.peers)) this.setPeer(peer, address);
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    return this.endpoint.server.port;
  }

  /** Start accepting peers. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(): Promise<number> {
    return this.endpoint.server.listen(this.options.listen?.host ?? '127.0.0.1', this.options.listen?.port ?? 0);
  }

  send(to: NodeId, group: GroupId, message: RaftMessage): void {
    this.endpoint.links.send(to, group, message);
  }

  signal(to: NodeId, signal: HostSignal): void {
    this.endpoint.links.signal(to, signal);
  }

  /** Add a peer host, or move a known one to a new address. This host's own id is ignored. */
  setPeer(peer: NodeId, address: string): void {
    if (peer !== this.id) this.endpoint.links.set(peer, address);
  }

  override setPeerAddresses(addresses: Readonly<Record<NodeId, string>>): void {
    const known = this.peers();
    for (const [peer, address] of Object.entries(addresses)) if (known[peer] !== address) this.setPeer(peer, address);
  }

  /** Every peer host: id -> `host:port`. */
  peers(): Record<NodeId, string> {
    return this.endpoint.links.addresses();
  }

  /** Serve `method path` on the same server (a client API, metrics). */
  route(method: string, path: string, handler: RouteHandler): void {
    this.endpoint.server.route(method, path, handler);
  }

  rawRoute(method: string, path: string, handler: RawRouteHandler): void {
    this.endpoint.server.rawRoute(method, path, handler);
  }

  override close(): Promise<void> {
    this.detach();
    return this.endpoint.close();
  }

  /** Who may send: by default, exactly the configured peer hosts (named by their certificates with `common-name`). */
  protected admitSender(from: NodeId, credentials: SenderCredentials): RequestRefusal | null {
    return this.endpoint.admitPeer(from, credentials);
  }
}
