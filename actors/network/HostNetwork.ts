/**
 * One transport for every Raft group a process hosts (multi-Raft, see docs/multiraft.md).
 *
 * A host runs many groups; each group's nodes are named by host id (group g on host n1 is member `n1` of g). Instead
 * of one connection per group and peer, every group's messages for one peer share this endpoint: each message carries
 * its group id, and a transport sends everything queued for one peer in one turn of the event loop together (one
 * request, one frame). Besides Raft messages, hosts exchange small host-level signals (`HostSignal`): the liveness
 * beat that stands in for the heartbeats of quiesced groups, and the quiesce and wake notices that put idle groups to
 * sleep and wake them.
 *
 * Delivery is best effort, like `NetworkActor`: messages and signals may be lost, duplicated or reordered (Raft and
 * the quiescing protocol tolerate it). A transport that knows a peer is unreachable says so with `unreachable(peer)`.
 * Transports validate what arrives from outside before delivering it: Raft messages with `raftMessageSchema`
 * (src/wire.ts), group ids with `groupIdSchema`, signals with `hostSignalSchema`.
 *
 * @example
 * const hub = new MemoryHostNetworkHub();
 * const network = hub.endpoint('n1');   // a HostNetwork
 * const host = new RaftHost({ id: 'n1', hosts: ['n1', 'n2', 'n3'], network, ... });
 */
import { z } from 'zod';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { groupIdSchema, MAX_GROUP_ID_LENGTH, type GroupId } from '../../src/groupId.js';

export { groupIdSchema, MAX_GROUP_ID_LENGTH, type GroupId };

/**
 * A host is alive. Sent to every peer host once per heartbeat interval, whatever its groups do: it carries the
 * liveness of every group the two hosts share, so quiesced groups need no heartbeats of their own. `incarnation`
 * changes when the host restarts, so a peer that restarted within a timeout is noticed (its groups forgot their
 * leadership: groups led there must wake).
 */
export interface LivenessBeat {
  readonly type: 'beat';
  readonly incarnation: string;
}

/**
 * The leader of `group` (the sender) is idle at `term`: every follower has the whole log, committed up to `commit`.
 * A follower whose term, leader, commit and last index match stops its election timer until something wakes it; one
 * that does not match answers `wake`.
 */
export interface QuiesceNotice {
  readonly type: 'quiesce';
  readonly group: GroupId;
  readonly term: number;
  readonly commit: number;
}

/**
 * The sender's node of `group` woke (a local proposal or read, a message, a refused quiesce): the receiver's node of
 * the group should wake too, so that a sleeping leader resumes its heartbeats before an awake follower times out.
 */
export interface WakeNotice {
  readonly type: 'wake';
  readonly group: GroupId;
  readonly term: number;
}

/** Host-level messages: plain JSON objects. */
export type HostSignal = LivenessBeat | QuiesceNotice | WakeNotice;

const term = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** What a transport checks every incoming signal against (unknown fields are stripped). */
export const hostSignalSchema: z.ZodType<HostSignal> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('beat'), incarnation: z.string().min(1).max(MAX_GROUP_ID_LENGTH) }),
  z.object({ type: z.literal('quiesce'), group: groupIdSchema, term, commit: term }),
  z.object({ type: z.literal('wake'), group: groupIdSchema, term }),
]);

/** Where a transport hands what arrives: the host. */
export interface HostNetworkHandlers {
  /** A Raft message for `group` from host `from`. */
  received(from: NodeId, group: GroupId, message: RaftMessage): void;
  /** A host-level signal from host `from`. */
  signalled(from: NodeId, signal: HostSignal): void;
  /** The transport knows `peer` cannot be reached right now (a refused connection, a dead session). */
  unreachable(peer: NodeId): void;
}

export abstract class HostNetwork {
  /** This host's id. */
  abstract readonly id: NodeId;
  #handlers: HostNetworkHandlers | null = null;

  /**
   * Send `message` of `group` to host `to`. Everything sent to one peer in one turn of the event loop travels
   * together. Must not throw for an unreachable peer: report it with `unreachable` instead.
   */
  abstract send(to: NodeId, group: GroupId, message: RaftMessage): void;

  /** Send a host-level signal to host `to`, batched with the messages of the same turn. */
  abstract signal(to: NodeId, signal: HostSignal): void;

  /** Where the peer hosts are reached, for transports that dial them. The default ignores addresses. */
  setPeerAddresses(_addresses: Readonly<Record<NodeId, string>>): void {}

  /** Wire the transport to its host. A transport serves one host: attaching twice throws. */
  attach(handlers: HostNetworkHandlers): void {
    if (this.#handlers !== null) throw new Error(`${this.constructor.name} is already attached to a host`);
    this.#handlers = handlers;
  }

  /** Stop delivering to the host (what arrives afterwards is dropped). */
  detach(): void {
    this.#handlers = null;
  }

  /** Release sockets and servers; the default only detaches. Idempotent. Subclasses that hold I/O override it. */
  close(): Promise<void> {
    this.detach();
    return Promise.resolve();
  }

  protected get attached(): boolean {
    return this.#handlers !== null;
  }

  /** Hand an arrived (and validated) Raft message to the host. */
  protected received(from: NodeId, group: GroupId, message: RaftMessage): void {
    this.#handlers?.received(from, group, message);
  }

  /** Hand an arrived (and validated) signal to the host. */
  protected signalled(from: NodeId, signal: HostSignal): void {
    this.#handlers?.signalled(from, signal);
  }

  protected unreachable(peer: NodeId): void {
    this.#handlers?.unreachable(peer);
  }
}
