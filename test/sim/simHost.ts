/**
 * One simulated server: the real node (the statechart of src/node/machine.ts with its `NodeRuntime` and its inbox,
 * built with `createNodeActor` exactly as `createRaftNode` builds it) on simulated actors that subclass the
 * abstract classes users subclass: `SimTimer`, `SimNetworkEndpoint`, `SimLogStore` and the key-value `StateMachine`.
 *
 * The host outlives the node's incarnations. It owns what survives a crash (the disk, the clock) and the read-only
 * instrumentation the safety checks look at: the log mirror (the log the core holds, rebuilt from the writes the store
 * is sent), the record of applied entries, and the current state machine. A crash stops the xstate actor (every
 * volatile thing goes with it, and the disk loses what is not durable); a restart builds a new actor, with new actors
 * of its own, on the same disk. `incarnation` grows on both, so events scheduled for an earlier life are ignored.
 *
 * Callers reach the node the way an application does: `trackProposal`/`trackRead`/`trackTransfer` on its runtime and
 * `xraft.*` events through its inbox. Nothing here may throw into xstate: every hook reports to `HostDriver.fail`.
 */
import type { Actor } from 'xstate';
import type { TimerActor, TimerName } from '../../actors/timer/TimerActor.js';
import { FixedTimeout, type FailureDetector } from '../../actors/timer/FailureDetector.js';
import type { CommandCodec } from '../../src/codec.js';
import type { MembershipChange } from '../../src/core/membership.js';
import type { RaftCore } from '../../src/core/raft.js';
import type { Entry, HardState, NodeId, Proposal, RaftConfig, RaftMessage, RandomSource, SnapshotMeta } from '../../src/core/types.js';
import { SessionExpiredError, type XraftError } from '../../src/errors.js';
import type { createNodeMachine, NodeEmitted } from '../../src/node/machine.js';
import { createNodeActor } from '../../src/node/nodeActor.js';
import type { NodeInbox } from '../../src/node/inbox.js';
import type { NodeRuntime } from '../../src/node/runtime.js';
import { decodeKvCommand, encodeKvCommand, KvStateMachine, type KvCommand, type KvObserver } from './kvStateMachine.js';
import { LogMirror } from './logMirror.js';
import { RecordingStateMachine } from './recordingStateMachine.js';
import { SafetyViolation } from './safetyViolation.js';
import { sameMeta, SimulatedDisk, type DiskOperation, type PersistEffect } from './simulatedDisk.js';
import { SimLogStore } from './simLogStore.js';
import { SimNetworkEndpoint } from './simNetworkEndpoint.js';
import { SimTimer, SkewedClock } from './simTimer.js';

export type KvRuntime = NodeRuntime<KvCommand, string | null, unknown>;
type NodeActor = Actor<ReturnType<typeof createNodeMachine<KvCommand, string | null, unknown>>>;
const codec: CommandCodec<KvCommand> = { encode: encodeKvCommand, decode: decodeKvCommand };

/** How a node's actors reach the simulation (the seeded one, or the hand-driven harness). */
export interface HostDriver {
  /** Virtual time now. */
  readonly now: number;
  send(from: SimHost, to: NodeId, message: RaftMessage): void;
  /** A timer was armed: the driver calls `fireTimer(timer, generation)` once `afterMs` of virtual time passed. */
  timerArmed(host: SimHost, timer: TimerName, afterMs: number, generation: number): void;
  /** An operation was queued on the disk; the driver calls `completeDisk()` when the oldest one is durable. */
  diskQueued(host: SimHost, operation: DiskOperation): void;
  /** A store read: run `answer` now or later (never for a later incarnation). */
  read(host: SimHost, answer: () => void): void;
  /** The store accepted a write (the core's log changed). */
  logWritten(host: SimHost, write: PersistEffect): void;
  /** The oldest write became durable (`previous`: the hard state it replaced), before the node hears. */
  writeDurable(host: SimHost, write: PersistEffect, previous: HardState): void;
  /** The chain hash of the committed prefix a snapshot covers; throws unless it ends with a committed entry. */
  snapshotChain(host: SimHost, meta: SnapshotMeta): number;
  /** The state machine applied a batch; `refusedRetries`: session requests in it answered without applying (stale retries). */
  applied(host: SimHost, entries: readonly Entry[], refusedRetries: number): void;
  /** The state machine was restored from a snapshot. */
  restored(host: SimHost, meta: SnapshotMeta): void;
  /** The node emitted an event (role, leader, membership, snapshot, stopped, ...). */
  emitted(host: SimHost, event: NodeEmitted): void;
  /** The node handled an event: the place for the checks. */
  stepped(host: SimHost): void;
  /** Something broke a promise; the run fails with the first one. */
  fail(error: unknown): void;
}

/** What a caller of the node learns: the answer, or the error the node gave. */
export type CallOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: XraftError | Error };

export class SimHost {
  readonly disk = new SimulatedDisk();
  readonly clock = new SkewedClock();
  incarnation = 0;
  /** Taken out of service for good (removed from the cluster): never restarted. */
  decommissioned = false;
  mirror = new LogMirror();
  /** Entries the state machine applied, since the snapshot it last started from. */
  stateMachine = new RecordingStateMachine();
  /** The current incarnation's state machine (the last one's while down). */
  kv: KvStateMachine;
  /** The largest user chunk of a snapshot this node takes (the session header is chunk 0 whatever its size). */
  snapshotChunkBytes = 256;
  /** Followers this node (as leader) has read snapshot chunks for since it last heard one installed. */
  readonly sendingSnapshotTo = new Set<NodeId>();
  /** The state machine was sent snapshot work, which runs on promises: the simulation lets microtasks run. */
  asyncWork = false;
  /** Entry data of proposals made here that the state machine answered, until their caller hears. */
  private readonly answeredData = new Map<string, string>();
  private actor: NodeActor | null = null;
  private inbox: NodeInbox<KvCommand, string | null, unknown> | null = null;
  private nodeRuntime: KvRuntime | null = null;
  private timer: SimTimer | null = null;
  private network: SimNetworkEndpoint | null = null;
  private store: SimLogStore | null = null;

  constructor(
    readonly id: NodeId,
    /** The initial configuration: the bootstrap voters, or [] for a node that joins a running cluster. */
    private readonly voters: readonly NodeId[],
    private readonly config: Partial<RaftConfig>,
    private readonly driver: HostDriver,
    /** A fresh random source for each incarnation, so a restart does not replay the previous life's timeouts. */
    private readonly randomFor: (incarnation: number) => RandomSource,
    /** Each incarnation's election-timer failure detector (a fresh one: a restart forgets the leader's rhythm). */
    private readonly failureDetector: () => FailureDetector = () => new FixedTimeout(),
    /** What the node gets as its timer, around each incarnation's `SimTimer` (a multi-group run adds quiescing). */
    private readonly wrapTimer: (timer: SimTimer) => TimerActor = (timer) => timer,
  ) {
    this.kv = new KvStateMachine(id);
  }

  get up(): boolean {
    return this.actor !== null;
  }

  /** The core, once the running node has recovered its state. */
  get core(): RaftCore | null {
    return this.nodeRuntime?.core ?? null;
  }

  /** The running core; asking a node without one is a bug in the simulator, not in Raft. */
  get running(): RaftCore {
    const core = this.core;
    if (core === null) throw new Error(`${this.id} is down`);
    return core;
  }

  get runtime(): KvRuntime {
    if (this.nodeRuntime === null) throw new Error(`${this.id} is down`);
    return this.nodeRuntime;
  }

  /** The statechart's state value, for traces. */
  get state(): string {
    return this.actor === null ? 'down' : JSON.stringify(this.actor.getSnapshot().value);
  }

  /** (Re)start from durable state only: what a real process finds on disk after a crash. */
  start(): void {
    if (this.actor !== null) throw new Error(`${this.id} is already up`);
    this.incarnation++;
    const driver = this.driver;
    const recovered = this.disk.recovered();
    const snapshot = recovered.snapshot ?? null;
    this.mirror = snapshot === null
      ? LogMirror.fromEntries(recovered.entries)
      : LogMirror.fromSnapshot(snapshot.index, snapshot.term, driver.snapshotChain(this, snapshot), recovered.entries);
    this.stateMachine = new RecordingStateMachine(0);
    this.asyncWork = false;
    this.answeredData.clear();
    this.sendingSnapshotTo.clear();
    const host = this;
    this.timer = new SimTimer(
      {
        get virtualNow() {
          return driver.now;
        },
        clock: this.clock,
        timerArmed: (timer, afterMs, generation) => driver.timerArmed(this, timer, afterMs, generation),
      },
      this.failureDetector(),
    );
    this.network = new SimNetworkEndpoint((to, message) => driver.send(host, to, message));
    this.store = new SimLogStore({
      disk: this.disk,
      logWritten: (write) => this.guard(() => {
        this.mirror.apply(write.truncateFrom, write.entries);
        driver.logWritten(this, write);
      }),
      diskQueued: (operation) => driver.diskQueued(this, operation),
      read: (answer) => driver.read(this, answer),
      snapshotReadFor: (to) => this.sendingSnapshotTo.add(to),
    });
    this.kv = new KvStateMachine(this.id, this.observer());
    const { actor, inbox } = createNodeActor<KvCommand, string | null, unknown>(
      {
        id: this.id,
        members: this.voters,
        actors: { timer: this.wrapTimer(this.timer), network: this.network, logStore: this.store, stateMachine: this.kv },
        codec,
        config: this.config,
        random: this.randomFor(this.incarnation),
        snapshotChunkBytes: this.snapshotChunkBytes,
      },
    );
    this.actor = actor;
    this.inbox = inbox;
    this.nodeRuntime = actor.getSnapshot().context.runtime;
    actor.on('*', (event) => this.guard(() => driver.emitted(this, event)));
    // The inbox emits the `applied` events of the replies it steps itself; the statechart, those it handles.
    inbox.onApplied((event) => this.guard(() => driver.emitted(this, event)));
    // Checks after every event the node handles, on either path (every event reaches the node through its inbox).
    inbox.onStepped(() => this.guard(() => driver.stepped(this)));
    actor.subscribe({ error: (error) => driver.fail(error) });
    actor.start();
  }

  /** Power loss: the node and everything volatile vanish with every write not yet durable. Returns the writes lost. */
  crash(): number {
    const actor = this.actor;
    if (actor === null) return 0;
    this.actor = null;
    this.inbox = null;
    this.nodeRuntime = null;
    this.timer = null;
    this.network = null;
    this.store = null;
    this.incarnation++;
    this.sendingSnapshotTo.clear();
    this.asyncWork = false;
    actor.stop();
    return this.disk.crash();
  }

  // -------------------------------------------------------------------------------------------------------------
  // The simulation's side of the actors

  /** A message arrived from the network; false when the node is not listening. */
  deliver(from: NodeId, message: RaftMessage): boolean {
    return this.network?.deliver(from, message) ?? false;
  }

  fireTimer(timer: TimerName, generation: number): boolean {
    return this.timer?.expire(timer, generation) ?? false;
  }

  /** Fire `timer` now whether it is armed or not (hand-driven tests). */
  forceTimer(timer: TimerName): void {
    this.timer?.fireNow(timer);
  }

  /** Campaign at once (`xraft.campaign`, as `campaign()` of a node handle does). */
  campaign(): void {
    this.inbox?.deliver({ type: 'xraft.campaign' });
  }

  /** A leader's commit notice (a multi-Raft quiesce notice), as RaftHost hands it to the node. */
  commitNotice(from: NodeId, term: number, commit: number): void {
    this.inbox?.deliver({ type: 'xraft.commitNotice', from, term, commit });
  }

  /** The oldest disk operation is durable: tell the checks, then the node. */
  completeDisk(): void {
    const store = this.store;
    if (store === null) throw new Error(`${this.id}: a disk completion while down`);
    store.completeNext((completed) => {
      if (completed.kind === 'persist') this.driver.writeDurable(this, completed.write, completed.previous);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Callers, through the runtime's waiters and the statechart's events

  /** Propose; each proposal's caller hears like a user of `propose()`, with the data of the entry that answered it. */
  propose(proposals: readonly Proposal[], timeoutMs: number, answer: (id: string, outcome: CallOutcome<{ result: string | null; data: string | undefined }>) => void): void {
    const runtime = this.runtime;
    for (const proposal of proposals) {
      runtime.waiters.trackProposal(
        proposal.id,
        timeoutMs,
        (result) => this.guard(() => {
          const data = this.answeredData.get(proposal.id);
          this.answeredData.delete(proposal.id);
          answer(proposal.id, { ok: true, value: { result, data } });
        }),
        (error) => this.guard(() => answer(proposal.id, { ok: false, error })),
        undefined,
        // As `proposeEncoded` does: the node that proposes applies its own entries from the command it decoded here.
        decodedOrUndefined(runtime.codec, proposal.data),
      );
    }
    this.inbox!.deliver({ type: 'xraft.propose', proposals });
  }

  /** A read of `key` through the runtime's read path (ReadIndex, or the lease). */
  read(id: string, key: string, lease: boolean, timeoutMs: number, answer: (outcome: CallOutcome<string | null>) => void): void {
    this.runtime.waiters.trackRead(
      id,
      timeoutMs,
      (stateMachine) => (stateMachine as KvStateMachine).read(key),
      (value) => this.guard(() => answer({ ok: true, value: value as string | null })),
      (error) => this.guard(() => answer({ ok: false, error })),
    );
    this.inbox!.deliver({ type: 'xraft.read', ids: [id], lease });
  }

  changeMembership(id: string, change: MembershipChange, promote: boolean, timeoutMs: number, answer: (outcome: CallOutcome<unknown>) => void): void {
    this.runtime.waiters.trackProposal(
      id,
      timeoutMs,
      (value) => this.guard(() => answer({ ok: true, value })),
      (error) => this.guard(() => answer({ ok: false, error })),
    );
    this.inbox!.deliver({ type: 'xraft.changeMembership', id, change, promote });
  }

  /** Transfer leadership (to `target`, or to the most up-to-date voter); false when one is already under way. */
  transferLeadership(target: NodeId | undefined, answer: (outcome: CallOutcome<undefined>) => void): boolean {
    try {
      this.runtime.trackTransfer(
        target,
        () => this.guard(() => answer({ ok: true, value: undefined })),
        (error) => this.guard(() => answer({ ok: false, error })),
      );
    } catch {
      return false;
    }
    this.inbox!.deliver({ type: 'xraft.transferLeadership', target });
    return true;
  }

  // -------------------------------------------------------------------------------------------------------------

  private observer(): KvObserver {
    return {
      received: (message) => {
        if (message.type === 'Apply') return;
        this.asyncWork = true;
        if (message.type === 'BeginRestore') this.guard(() => this.beginRestore(message.meta));
      },
      applied: (entries, results) => this.guard(() => {
        this.stateMachine.apply(entries);
        let refusedRetries = 0;
        for (const { proposalId, index, outcome } of results) {
          const entry = entries.find((candidate) => candidate.index === index);
          if (entry === undefined) throw new SafetyViolation('Client Outcome', `${this.id} answered ${proposalId} at ${index}, outside the applied entries`);
          this.answeredData.set(proposalId, entry.data);
          if (!outcome.ok && outcome.error instanceof SessionExpiredError) refusedRetries++;
        }
        this.driver.applied(this, entries, refusedRetries);
      }),
      restored: (meta) => this.guard(() => {
        this.stateMachine = new RecordingStateMachine(meta.index);
        this.driver.restored(this, meta);
      }),
      failed: (error) => this.driver.fail(error),
    };
  }

  /** The core's log starts over at the snapshot being restored; so does the mirror. It must be the store's current one. */
  private beginRestore(meta: SnapshotMeta): void {
    const stored = this.disk.snapshot;
    if (stored === null || !sameMeta(stored.meta, meta)) {
      throw new SafetyViolation('Snapshot Contract', `${this.id} restores snapshot ${meta.index}@${meta.term}, the store's current one is ${stored === null ? 'none' : `${stored.meta.index}@${stored.meta.term}`}`);
    }
    this.mirror.rebase(meta.index, meta.term, this.driver.snapshotChain(this, meta));
  }

  /** Run a hook from inside the node; what it throws goes to the driver, never into xstate. */
  private guard(hook: () => void): void {
    try {
      hook();
    } catch (error) {
      this.driver.fail(error);
    }
  }
}

function decodedOrUndefined<Command>(codec: CommandCodec<Command>, data: string): { readonly data: string; readonly command: Command } | undefined {
  try {
    return { data, command: codec.decode(data) };
  } catch {
    return undefined;
  }
}
