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
import type { RequestRefusal } from './http2Server.js';

export class Http2HostNetwork extends HostNetwork {
  readonly id: NodeId;
  readonly stats: Http2NetworkStats;
  private readonly endpoint: Http2Endpoint<HostSignal>;

  constructor(options: Http2NetworkOptions) {
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
    this.endpoint.setPeers(options.peers);
  }

  /** The port the server listens on (after `listen`). */
  get port(): number {
    return this.endpoint.server.port;
  }

  /** Start accepting peers. Rejects with `NetworkListenError` (for example code `PORT_IN_USE`). */
  listen(): Promise<number> {
    return this.endpoint.listen();
  }

  send(to: NodeId, group: GroupId, message: RaftMessage): void {
    this.endpoint.links.send(to, group, message);
  }

  signal(to: NodeId, signal: HostSignal): void {
    this.endpoint.links.signal(to, signal);
  }

  /** Add peer hosts, or move known ones to new addresses. This host's own id is ignored. */
  override setPeerAddresses(addresses: Readonly<Record<NodeId, string>>): void {
    this.endpoint.setPeers(addresses);
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
