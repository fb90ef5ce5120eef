/**
 * A hand-driven cluster for scenario tests (etcd's interaction tests, as a TypeScript API): nothing happens unless
 * the test says so. Messages wait in `inFlight` until delivered or dropped, timers fire only when the test fires
 * them, and disk writes complete as soon as the current input is handled (unless the node's disk is held).
 *
 * The same real nodes (`SimHost`: the statechart and runtime on simulated actors) and `SafetyChecker` as the seeded
 * simulator run underneath, so every scenario is also checked for every safety invariant after every step: a scenario
 * that breaks one throws a `SafetyViolation`. Firing a timer sends the node its timer's reply (`ElectionTimeout`,
 * `HeartbeatDue`) whether it is armed or not; store reads answer at once.
 */
import type { RaftCore } from '../../src/core/raft.js';
import type { Entry, HardState, NodeId, ProposalFailure, RaftConfig, RaftMessage, SnapshotMeta } from '../../src/core/types.js';
import { NotLeaderError } from '../../src/errors.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import { ClientLedger } from './clientLedger.js';
import { describeEntries, describeMessage } from './describe.js';
import { deriveSeed, RandomStream, StreamPurpose } from './randomStreams.js';
import { SafetyChecker } from './safetyChecker.js';
import { SimHost, type HostDriver } from './simHost.js';
import type { PersistEffect } from './simulatedDisk.js';
import { nodeIds } from './simOptions.js';

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

export class Harness implements HostDriver {
  readonly ids: NodeId[];
  readonly ledger = new ClientLedger();
  readonly checker: SafetyChecker;
  /** A readable log of everything that happened, for failure messages and debugging. */
  readonly events: string[] = [];
  /** Proposals that failed, by proposal id: NOT_LEADER with its outcome (anything else counts as unknown). */
  readonly failures = new Map<string, ProposalFailure>();
  private readonly nodes = new Map<NodeId, SimHost>();
  /** The first broken promise, thrown when the current call returns. */
  private violation: unknown = null;
  private inFlight: InFlightMessage[] = [];
  private nextMessageId = 1;
  private readonly blocked = new Set<string>();
  private readonly heldDisks = new Set<NodeId>();
  private readonly delivered: InFlightMessage[] = [];

  constructor(options: HarnessOptions = {}) {
    this.ids = nodeIds(options.nodes ?? 3);
    const seed = options.seed ?? 1;
    const config: Partial<RaftConfig> = { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, ...options.config };
    const list = this.ids.map((id, number) => {
      const node = new SimHost(id, this.ids, config, this, (incarnation) =>
        new RandomStream(deriveSeed(seed, StreamPurpose.NodeCore + number * 1000 + incarnation)).next,
      );
      const terms = options.logs?.[id];
      if (terms !== undefined || options.hardStates?.[id] !== undefined) {
        const entries: Entry[] = (terms ?? []).map((term, i) => ({ index: i + 1, term, kind: 'command', data: `e${i + 1}t${term}` }));
        const lastTerm = entries.length === 0 ? 0 : entries[entries.length - 1]!.term;
        const hardState: HardState = { term: lastTerm, votedFor: null, commit: 0, ...options.hardStates?.[id] };
        node.disk.write({ writeId: 0, hardState, truncateFrom: null, entries });
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
      this.checker.onLogWrite(node, { writeId: 0, hardState: recovered.hardState, truncateFrom: null, entries: recovered.entries });
    }
    this.settle();
    this.throwViolation();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Looking at the cluster

  node(id: NodeId): SimHost {
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
    let best: SimHost | undefined;
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
    this.input(id, 'campaign', (node) => node.campaign());
  }

  /** Fire a node's election timer (a follower campaigns; a leader runs its check-quorum round). */
  electionTimeout(id: NodeId): void {
    this.input(id, 'election timeout', (node) => node.forceTimer('election'));
  }

  heartbeat(id: NodeId): void {
    this.input(id, 'heartbeat', (node) => node.forceTimer('heartbeat'));
  }

  /** Propose one command on a node, as a caller of `propose()` would; returns the proposal id. */
  propose(id: NodeId, data?: string): string {
    const proposal = this.ledger.create(id, 0);
    const command = data === undefined ? proposal : { id: proposal.id, data };
    if (data !== undefined) this.ledger.rename(proposal.id, data);
    this.input(id, `propose ${command.id}=${command.data}`, (node) =>
      node.propose([command], 3_600_000, (proposalId, outcome) => {
        if (outcome.ok) {
          this.ledger.acknowledged(proposalId, outcome.value.data ?? '', id);
          return;
        }
        const error = outcome.error;
        const failure: ProposalFailure = error instanceof NotLeaderError && error.outcome === 'not-appended'
          ? { code: 'NOT_LEADER', leaderHint: error.leaderHint, outcome: 'not-appended' }
          : { code: 'NOT_LEADER', leaderHint: error instanceof NotLeaderError ? error.leaderHint : null, outcome: 'unknown' };
        this.events.push(`  ${id} proposal ${proposalId} failed ${failure.code}/${failure.outcome}`);
        this.failures.set(proposalId, failure);
        this.ledger.failed(proposalId, failure, id);
      }),
    );
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
      this.input(envelope.to, `recv ${envelope.from}->${envelope.to} ${describeMessage(envelope.message)}`, (node) => {
        node.deliver(envelope.from, envelope.message);
      });
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
    this.throwViolation();
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
    this.throwViolation();
  }

  // -------------------------------------------------------------------------------------------------------------
  // HostDriver

  readonly now = 0;

  send(from: SimHost, to: NodeId, message: RaftMessage): void {
    this.inFlight.push({ id: this.nextMessageId++, from: from.id, to, message });
  }

  timerArmed(): void {
    // Timers fire only when the test fires them.
  }

  diskQueued(): void {
    // Disks complete everything when the cluster settles.
  }

  read(_host: SimHost, answer: () => void): void {
    answer();
  }

  logWritten(node: SimHost, write: PersistEffect): void {
    this.checker.onLogWrite(node, write);
    if (write.entries.length > 0 || write.truncateFrom !== null) {
      const truncation = write.truncateFrom === null ? '' : ` truncate@${write.truncateFrom}`;
      this.events.push(`  ${node.id} append${truncation} ${describeEntries(write.entries)}`);
    }
  }

  writeDurable(node: SimHost, write: PersistEffect, previous: HardState): void {
    this.checker.onWriteDurable(node, previous, write);
  }

  snapshotChain(node: SimHost, meta: SnapshotMeta): number {
    return this.checker.snapshotChain(node, meta);
  }

  restored(node: SimHost, meta: SnapshotMeta): void {
    this.events.push(`  ${node.id} restored snapshot ${meta.index}@${meta.term}`);
    this.checker.onRestored(node, meta);
  }

  applied(node: SimHost, entries: readonly Entry[]): void {
    this.checker.onApplied(node, entries);
    this.events.push(`  ${node.id} apply ${describeEntries(entries)}`);
  }

  emitted(node: SimHost, event: NodeEmitted): void {
    if (event.type === 'roleChanged') this.events.push(`  ${node.id} becomes ${event.role} t${event.term}`);
    if (event.type === 'stopped') this.fail(new Error(`${node.id} stopped: ${event.error ?? 'no reason given'}`));
  }

  stepped(node: SimHost): void {
    this.checker.afterStep(node);
  }

  fail(error: unknown): void {
    this.violation ??= error;
  }

  // -------------------------------------------------------------------------------------------------------------

  private input(id: NodeId, what: string, call: (node: SimHost) => void): void {
    this.events.push(what.startsWith('recv') ? what : `${what} ${id}`);
    call(this.node(id));
    this.settle();
    this.throwViolation();
  }

  private throwViolation(): void {
    if (this.violation === null) return;
    const violation = this.violation;
    this.violation = null;
    throw violation;
  }

  /** Complete every queued write on disks that are not held, oldest first, until none are left. */
  private settle(): void {
    for (let progressed = true; progressed; ) {
      progressed = false;
      for (const node of this.nodes.values()) {
        // Snapshot work runs on promises; scenarios are synchronous (the seeded simulator lets it run).
        if (node.asyncWork) throw new Error(`${node.id} started snapshot work: scenarios run without snapshots`);
      }
      for (const node of this.nodes.values()) {
        if (!node.up || this.heldDisks.has(node.id)) continue;
        while (node.up && node.disk.pendingWrites > 0) {
          node.completeDisk();
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
