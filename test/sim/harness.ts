/**
 * A hand-driven cluster for scenario tests (etcd's interaction tests, as a TypeScript API): nothing happens unless
 * the test says so. Messages wait in `inFlight` until delivered or dropped, timers fire only when the test fires
 * them, and disk writes complete as soon as the current input is handled (unless the node's disk is held).
 *
 * The same `SimNode`s and `SafetyChecker` as the seeded simulator run underneath, so every scenario is also checked
 * for every safety invariant after every step: a scenario that breaks one throws a `SafetyViolation`.
 */
import type { RaftCore } from '../../src/core/raft.js';
import type { Effect, Entry, HardState, NodeId, ProposalFailure, RaftConfig, RaftMessage, SnapshotMeta } from '../../src/core/types.js';
import { ClientLedger } from './clientLedger.js';
import { describeEntries, describeMessage } from './describe.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { SafetyChecker } from './safetyChecker.js';
import type { DiskOperation, PersistEffect } from './simulatedDisk.js';
import { nodeIds } from './simulation.js';
import { SimNode, type NodeDriver, type TimerKind } from './simNode.js';

export interface InFlightMessage {
  readonly id: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

/** Which messages to deliver or drop: a predicate, or fields that must all match. */
export type MessageFilter =
  | ((message: InFlightMessage) => boolean)
  | { readonly from?: NodeId; readonly to?: NodeId; readonly type?: RaftMessage['type'] };

export interface HarnessOptions {
  readonly nodes?: number;
  readonly config?: Partial<RaftConfig>;
  readonly seed?: number;
  /**
   * Durable logs to start from, as the term of each entry from index 1 (the paper's figures draw logs this way).
   * Nodes not listed start empty.
   */
  readonly logs?: Readonly<Record<NodeId, readonly number[]>>;
  /** Durable hard state per node (defaults: the last log term, no vote, commit 0). */
  readonly hardStates?: Readonly<Record<NodeId, Partial<HardState>>>;
}

export class Harness implements NodeDriver {
  readonly ids: NodeId[];
  readonly ledger = new ClientLedger();
  readonly checker: SafetyChecker;
  /** A readable log of everything that happened, for failure messages and debugging. */
  readonly events: string[] = [];
  /** Proposal outcomes reported by `proposalFailed`, by proposal id. */
  readonly failures = new Map<string, ProposalFailure>();
  private readonly nodes = new Map<NodeId, SimNode>();
  private inFlight: InFlightMessage[] = [];
  private nextMessageId = 1;
  private readonly blocked = new Set<string>();
  private readonly heldDisks = new Set<NodeId>();
  private readonly delivered: InFlightMessage[] = [];
  /** Snapshot chunk reads asked for by leaders, performed when the cluster settles. */
  private readonly chunkReads: { readonly node: SimNode; readonly incarnation: number; readonly to: NodeId; readonly chunk: number }[] = [];

  constructor(options: HarnessOptions = {}) {
    this.ids = nodeIds(options.nodes ?? 3);
    const seed = options.seed ?? 1;
    const config: Partial<RaftConfig> = { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, ...options.config };
    const list = this.ids.map((id, number) => {
      const node = new SimNode(id, this.ids, config, this, (incarnation) =>
        new RandomStream(deriveSeed(seed, StreamPurpose.NodeCore + number * 1000 + incarnation)).next,
      );
      const terms = options.logs?.[id];
      if (terms !== undefined || options.hardStates?.[id] !== undefined) {
        const entries: Entry[] = (terms ?? []).map((term, i) => ({ index: i + 1, term, kind: 'command', data: `e${i + 1}t${term}` }));
        const lastTerm = entries.length === 0 ? 0 : entries[entries.length - 1]!.term;
        const hardState: HardState = { term: lastTerm, votedFor: null, commit: 0, ...options.hardStates?.[id] };
        node.disk.write({ type: 'persist', writeId: 0, hardState, truncateFrom: null, entries });
        node.disk.completeNext();
      }
      this.nodes.set(id, node);
      return node;
    });
    this.checker = new SafetyChecker(list, this.ledger);
    for (const node of list) node.start();
    // Preloaded logs take part in Log Matching like any other write.
    for (const node of list) {
      const recovered = node.disk.recovered();
      this.checker.onLogWrite(node, { type: 'persist', writeId: 0, hardState: recovered.hardState, truncateFrom: null, entries: recovered.entries });
    }
    this.settle();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Looking at the cluster

  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new RangeError(`unknown node ${id}`);
    return node;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).running;
  }

  /** The terms of a node's log from index 1, the way the paper draws logs. */
  terms(id: NodeId): number[] {
    const core = this.core(id);
    return core.entries(1, core.lastIndex).map((entry) => entry.term);
  }

  /** Commands a node's state machine applied, in order (no-ops left out). */
  appliedCommands(id: NodeId): string[] {
    return this.node(id).stateMachine.applied.filter((entry) => entry.data !== '').map((entry) => entry.data);
  }

  /** The running leader with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.core?.role === 'leader' && (best === undefined || node.core.term > best.running.term)) best = node;
    }
    return best?.id;
  }

  get messages(): readonly InFlightMessage[] {
    return this.inFlight;
  }

  /** Every message delivered so far, oldest first (for counting round trips). */
  get deliveredMessages(): readonly InFlightMessage[] {
    return this.delivered;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Driving the cluster

  campaign(id: NodeId): void {
    this.input(id, 'campaign', (core) => core.campaign());
  }

  /** Fire a node's election timer (a follower campaigns; a leader runs its check-quorum round). */
  electionTimeout(id: NodeId): void {
    this.input(id, 'election timeout', (core) => core.electionTimeout());
  }

  heartbeat(id: NodeId): void {
    this.input(id, 'heartbeat', (core) => core.heartbeatDue());
  }

  /** Propose one command on a node; returns the proposal id. */
  propose(id: NodeId, data?: string): string {
    const proposal = this.ledger.create(id, 0);
    const command = data === undefined ? proposal : { id: proposal.id, data };
    if (data !== undefined) this.ledger.rename(proposal.id, data);
    this.input(id, `propose ${command.id}=${command.data}`, (core) => core.propose([command]));
    return proposal.id;
  }

  /** Deliver the matching in-flight messages (those present now, in send order). Returns how many arrived. */
  deliver(filter: MessageFilter = () => true): number {
    const matches = this.take(filter);
    let arrived = 0;
    for (const envelope of matches) {
      const target = this.node(envelope.to);
      if (!target.up || this.blocked.has(`${envelope.from}>${envelope.to}`)) {
        this.events.push(`drop ${envelope.from}->${envelope.to} ${describeMessage(envelope.message)}`);
        continue;
      }
      arrived++;
      this.delivered.push(envelope);
      this.input(envelope.to, `recv ${envelope.from}->${envelope.to} ${describeMessage(envelope.message)}`, (core) =>
        core.receive(envelope.from, envelope.message),
      );
    }
    return arrived;
  }

  /** Throw away the matching in-flight messages. Returns how many. */
  drop(filter: MessageFilter): number {
    const dropped = this.take(filter);
    for (const envelope of dropped) this.events.push(`drop ${envelope.from}->${envelope.to} ${describeMessage(envelope.message)}`);
    return dropped.length;
  }

  /** Deliver messages until none are in flight (blocked ones are dropped). Throws if the cluster never goes quiet. */
  stabilize(maxRounds = 1000): void {
    for (let round = 0; this.inFlight.length > 0; round++) {
      if (round >= maxRounds) throw new Error(`not quiet after ${maxRounds} rounds:\n${this.events.slice(-20).join('\n')}`);
      this.deliver();
    }
  }

  crash(id: NodeId): void {
    const lost = this.node(id).crash();
    this.events.push(`crash ${id} (${lost} writes lost)`);
  }

  restart(id: NodeId): void {
    this.events.push(`restart ${id}`);
    this.node(id).start();
    this.settle();
  }

  /** Cut every link between the groups (nodes in no group keep their links). */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (const group of groups) {
      for (const inside of group) {
        for (const other of groups) {
          if (other === group) continue;
          for (const outside of other) this.cut(inside, outside);
        }
      }
    }
  }

  /** Cut a node off from everyone, both ways. */
  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut(id, other);
      this.cut(other, id);
    }
  }

  /** Cut the one-way link from -> to. */
  cut(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }

  heal(): void {
    this.blocked.clear();
    this.events.push('heal');
  }

  /** Keep a node's writes from becoming durable until `releaseDisk`. */
  holdDisk(id: NodeId): void {
    this.heldDisks.add(id);
  }

  releaseDisk(id: NodeId): void {
    this.heldDisks.delete(id);
    this.settle();
  }

  // -------------------------------------------------------------------------------------------------------------
  // NodeDriver

  send(from: SimNode, to: NodeId, message: RaftMessage): void {
    this.inFlight.push({ id: this.nextMessageId++, from: from.id, to, message });
  }

  writeQueued(node: SimNode, write: PersistEffect): void {
    this.checker.onLogWrite(node, write);
    if (write.entries.length > 0 || write.truncateFrom !== null) {
      const truncation = write.truncateFrom === null ? '' : ` truncate@${write.truncateFrom}`;
      this.events.push(`  ${node.id} append${truncation} ${describeEntries(write.entries)}`);
    }
  }

  writeDurable(node: SimNode, write: PersistEffect, previous: HardState): void {
    this.checker.onWriteDurable(node, previous, write);
  }

  diskQueued(_node: SimNode, _operation: DiskOperation): void {
    // Disks complete everything when the cluster settles.
  }

  snapshotChunkRequested(node: SimNode, to: NodeId, chunk: number): void {
    this.chunkReads.push({ node, incarnation: node.incarnation, to, chunk });
  }

  snapshotChain(node: SimNode, meta: SnapshotMeta): number {
    return this.checker.snapshotChain(node, meta);
  }

  snapshotRestored(node: SimNode, meta: SnapshotMeta, why: 'install' | 'recovery'): void {
    this.events.push(`  ${node.id} restored snapshot ${meta.index}@${meta.term} (${why})`);
    this.checker.onRestored(node, meta);
  }

  snapshotSaved(node: SimNode, meta: SnapshotMeta): void {
    this.events.push(`  ${node.id} saved snapshot ${meta.index}@${meta.term}`);
  }

  applied(node: SimNode, entries: readonly Entry[], proposals: ReadonlyMap<number, string>): void {
    this.checker.onApplied(node, entries);
    for (const [index, id] of proposals) {
      this.ledger.acknowledged(id, entries.find((entry) => entry.index === index)!.data, node.id);
    }
    this.events.push(`  ${node.id} apply ${describeEntries(entries)}`);
    node.running.appliedTo(entries[entries.length - 1]!.index);
  }

  timerArmed(_node: SimNode, _timer: TimerKind, _afterMs: number, _generation: number): void {
    // Timers fire only when the test fires them.
  }

  proposalFailed(node: SimNode, id: string, failure: ProposalFailure): void {
    this.events.push(`  ${node.id} proposal ${id} failed ${failure.code}/${failure.outcome}`);
    this.failures.set(id, failure);
    this.ledger.failed(id, failure, node.id);
  }

  proposalResults(): void {
    // Scenario tests look at the ledger and the applied log instead.
  }

  readReady(node: SimNode, ids: readonly string[], index: number): void {
    this.events.push(`  ${node.id} read ${ids.join(',')} ready at ${index}`);
  }

  readFailed(node: SimNode, ids: readonly string[], leaderHint: NodeId | null): void {
    this.events.push(`  ${node.id} read ${ids.join(',')} failed (leader ${leaderHint ?? '-'})`);
  }

  observed(node: SimNode, effect: Effect): void {
    if (effect.type === 'roleChanged') this.events.push(`  ${node.id} becomes ${effect.role} t${effect.term}`);
  }

  stepped(node: SimNode): void {
    this.checker.afterStep(node);
  }

  // -------------------------------------------------------------------------------------------------------------

  private input(id: NodeId, what: string, call: (core: RaftCore) => Effect[]): void {
    this.events.push(what.startsWith('recv') ? what : `${what} ${id}`);
    this.node(id).input(call);
    this.settle();
  }

  /** Complete every queued write on disks that are not held, oldest first, until none are left. */
  private settle(): void {
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const read of this.chunkReads.splice(0)) {
        if (read.node.incarnation === read.incarnation && read.node.up) read.node.readSnapshotChunk(read.to, read.chunk);
        progressed = true;
      }
      for (const node of this.nodes.values()) {
        // Snapshot jobs run on promises; scenarios are synchronous (the seeded simulator drains them).
        if (node.snapshotJobPending) throw new Error(`${node.id} started a snapshot job: scenarios run without snapshots`);
      }
      for (const node of this.nodes.values()) {
        if (!node.up || this.heldDisks.has(node.id)) continue;
        while (node.up && node.disk.pendingWrites > 0) {
          node.completeWrite();
          progressed = true;
        }
      }
    }
  }

  private take(filter: MessageFilter): InFlightMessage[] {
    const matches = typeof filter === 'function' ? filter : (m: InFlightMessage) =>
      (filter.from === undefined || m.from === filter.from) &&
      (filter.to === undefined || m.to === filter.to) &&
      (filter.type === undefined || m.message.type === filter.type);
    const taken: InFlightMessage[] = [];
    const kept: InFlightMessage[] = [];
    for (const envelope of this.inFlight) (matches(envelope) ? taken : kept).push(envelope);
    this.inFlight = kept;
    return taken;
  }
}
