/**
 * The node statechart: recovering -> running (follower <-> preCandidate -> candidate -> leader) -> removed, and
 * stopped from anywhere.
 *
 * The statechart owns the wiring: it invokes the four actors as children, turns their replies into core inputs, and
 * sends the core's effects to the children with `sendTo`. The core decides role changes; the statechart mirrors them
 * as states, so an inspector shows the node's role and every event that moved it.
 *
 * One xstate event per batch, never per entry: proposals arrive as one `xraft.propose` per turn, the log store
 * acknowledges a group of writes with one `LogSaved`, the state machine answers a batch with one `Applied`.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import type { MembershipChange, NodeId, Proposal, RaftMessage, Role } from '../core/index.js';
import { fromActor } from '../actor.js';
import type { LogStoreMessage, LogStoreReply } from '../../actors/log-store/LogStore.js';
import type { NetworkMessage, NetworkReply } from '../../actors/network/NetworkActor.js';
import type { StateMachineMessage, StateMachineReply } from '../../actors/state-machine/StateMachine.js';
import type { TimerMessage, TimerReply } from '../../actors/timer/TimerActor.js';
import { NodeRuntime, type CoreScalars } from './runtime.js';
import { isSnapshotCommand } from './snapshotFlow.js';
import type { NodeInput, SnapshotOrigin } from './types.js';

/** The scalars a node's statechart keeps in its context (and its handle reports in `status()`): the core's, and more. */
export interface NodeScalars extends Omit<CoreScalars, 'role'> {
  readonly id: NodeId;
  /** `removed`: a committed configuration no longer holds this node; it answers status and refuses operations. */
  readonly role: Role | 'recovering' | 'stopped';
  /** Why the node stopped when it stopped on its own (store failure, core exception, failed restore); null otherwise. */
  readonly stopReason: string | null;
}

export interface NodeContext<Command, Result, AppError> extends NodeScalars {
  readonly runtime: NodeRuntime<Command, Result, AppError>;
}

export type NodeEvent<Result, AppError> =
  | { readonly type: 'xraft.propose'; readonly proposals: readonly Proposal[] }
  | { readonly type: 'xraft.read'; readonly ids: readonly string[]; readonly lease: boolean }
  | { readonly type: 'xraft.changeMembership'; readonly id: string; readonly change: MembershipChange; readonly promote: boolean }
  | { readonly type: 'xraft.transferLeadership'; readonly target: NodeId | undefined }
  | { readonly type: 'xraft.campaign' }
  | { readonly type: 'xraft.snapshot' }
  /** A leader became known: what waited for one is proposed or read again. */
  | { readonly type: 'xraft.leaderKnown' }
  /** Leader `from` says everything through `commit` is committed in `term` (a multi-Raft host's quiesce notice). */
  | { readonly type: 'xraft.commitNotice'; readonly from: NodeId; readonly term: number; readonly commit: number }
  | { readonly type: 'xraft.stop' }
  | { readonly type: 'xraft.fail'; readonly reason: string }
  | TimerReply
  | NetworkReply
  | LogStoreReply
  | StateMachineReply<Result, AppError>;

/** Events a node emits for observers (`actor.on(type, listener)`). */
export type NodeEmitted =
  | { readonly type: 'roleChanged'; readonly role: Role; readonly term: number }
  | { readonly type: 'leaderChanged'; readonly leader: NodeId | null; readonly term: number }
  | { readonly type: 'applied'; readonly index: number }
  | { readonly type: 'membershipChanged'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[]; readonly addresses?: Readonly<Record<NodeId, string>> }
  | { readonly type: 'stopped'; readonly error: string | null }
  /** The core refused a message from `from` that broke a protocol invariant; nothing changed. Log it with its sender. */
  | { readonly type: 'refused'; readonly from: NodeId; readonly messageType: RaftMessage['type']; readonly reason: string }
  /** A snapshot became this node's current one: taken here, installed from the leader, or restored on start. */
  | { readonly type: 'snapshot'; readonly how: SnapshotOrigin; readonly index: number; readonly term: number }
  /**
   * Taking a snapshot at `index` failed (tried again after another threshold's worth of entries). `unsupported`: the
   * state machine implements no snapshots, so the log is never compacted and grows in memory (a warning is issued once).
   */
  | { readonly type: 'snapshotFailed'; readonly index: number; readonly message: string; readonly unsupported: boolean };

type AnyNodeEvent = NodeEvent<unknown, unknown>;

/**
 * Feed one event to the runtime, whose effects then wait in its outbox for `dispatch`. A thin dispatch: each event
 * has one named runtime method.
 */
function feed<Command, Result, AppError>(runtime: NodeRuntime<Command, Result, AppError>, event: NodeEvent<Result, AppError>): void {
  switch (event.type) {
    case 'Loaded':
      return runtime.loaded(event.state);
    case 'SnapshotChunkTaken':
    case 'SnapshotFailed':
    case 'SnapshotChunkConsumed':
    case 'SnapshotRestored':
    case 'SnapshotChunkStored':
    case 'SnapshotChunkLoaded':
      return runtime.snapshotReply(event);
    case 'Received':
      return runtime.received(event.from, event.message);
    case 'PeerUnreachable':
      return runtime.peerUnreachable(event.peer);
    case 'ElectionTimeout':
      return runtime.electionTimeout();
    case 'HeartbeatDue':
      return runtime.heartbeatDue();
    case 'LogSaved':
      return runtime.persisted(event.writeId);
    case 'Applied':
      return runtime.applied(event.index, event.results);
    case 'xraft.propose':
      return runtime.propose(event.proposals);
    case 'xraft.read':
      return runtime.read(event.ids, event.lease);
    case 'xraft.changeMembership':
      return runtime.changeMembership(event.id, event.change, event.promote);
    case 'xraft.transferLeadership':
      return runtime.transferLeadership(event.target);
    case 'xraft.campaign':
      return runtime.campaign();
    case 'xraft.snapshot':
      return runtime.snapshotNow();
    case 'xraft.leaderKnown':
      return runtime.leaderKnown();
    case 'xraft.commitNotice':
      return runtime.commitNotice(event.from, event.term, event.commit);
    default:
      return runtime.idle();
  }
}

/** Why a node stops on `event` (null for a graceful stop). */
function stopReasonOf(event: AnyNodeEvent): string | null {
  if (event.type === 'StoreFailed') return `log store failed (${event.cause.code}): ${event.cause.message}`;
  if (event.type === 'xraft.fail') return event.reason;
  return null;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Build the statechart for a node whose commands, results and errors have the given types. */
export function createNodeMachine<Command, Result, AppError>() {
  type Context = NodeContext<Command, Result, AppError>;
  type Event = NodeEvent<Result, AppError>;

  const roleIs = (role: Role) => ({ context }: { context: Context }) => context.role === role;

  /** Eventless transitions that keep the active state equal to the core's role. */
  const roles: readonly Role[] = ['follower', 'preCandidate', 'candidate', 'leader'];
  const followRoleExcept = (current: Role) =>
    roles.filter((role) => role !== current).map((role) => ({ guard: roleIs(role), target: role }));

  /** The events a node with a core feeds to it (running, or removed: a removed node still stores and applies). */
  const coreEvents = {
    Received: { actions: ['step', 'dispatch'] },
    PeerUnreachable: { actions: ['step', 'dispatch'] },
    ElectionTimeout: { actions: ['step', 'dispatch'] },
    HeartbeatDue: { actions: ['step', 'dispatch'] },
    LogSaved: { actions: ['step', 'dispatch'] },
    Applied: { actions: ['step', 'dispatch', 'emitApplied'] },
    'xraft.propose': { actions: ['step', 'dispatch'] },
    'xraft.read': { actions: ['step', 'dispatch'] },
    'xraft.changeMembership': { actions: ['step', 'dispatch'] },
    'xraft.transferLeadership': { actions: ['step', 'dispatch'] },
    'xraft.campaign': { actions: ['step', 'dispatch'] },
    'xraft.snapshot': { actions: ['step', 'dispatch'] },
    'xraft.leaderKnown': { actions: ['step', 'dispatch'] },
    'xraft.commitNotice': { actions: ['step', 'dispatch'] },
  } as const;

  /** A failed child actor stops the node with a reason, instead of failing the node's actor silently. */
  const stopOnChildError = (child: string) => ({ target: '.stopped' as const, actions: { type: 'stopOnChildError' as const, params: { child } } });

  return setup({
    types: {
      context: {} as Context,
      events: {} as Event,
      input: {} as NodeInput<Command, Result, AppError>,
      emitted: {} as NodeEmitted,
      children: {} as { timer: 'timer'; network: 'network'; logStore: 'logStore'; stateMachine: 'stateMachine' },
    },
    actors: {
      timer: fromActor<TimerMessage, TimerReply>(),
      network: fromActor<NetworkMessage, NetworkReply>(),
      logStore: fromActor<LogStoreMessage, LogStoreReply>(),
      stateMachine: fromActor<StateMachineMessage, StateMachineReply<Result, AppError>>(),
    },
    actions: {
      /** Feed the event to the runtime (effects wait in its outbox for `dispatch`) and mirror the core's scalars. */
      step: assign(({ context, event }) => {
        feed(context.runtime, event);
        return context.runtime.scalars() ?? {};
      }),
      /** Perform the core's effects: messages to the children, events to observers, answers to callers. */
      dispatch: enqueueActions(({ context, enqueue }) => {
        const { runtime } = context;
        const outbox = runtime.outbox;
        runtime.outbox = [];
        // Snapshot effects become store and state machine messages (rare: skip the copy on the hot path).
        const effects = outbox.some(isSnapshotCommand) ? outbox.flatMap((next) => (isSnapshotCommand(next) ? runtime.snapshotCommand(next) : [next])) : outbox;
        for (const effect of effects) {
          switch (effect.type) {
            case 'toLogStore':
              enqueue.sendTo('logStore', effect.message);
              break;
            case 'toStateMachine':
              enqueue.sendTo('stateMachine', effect.message);
              break;
            case 'fail':
              enqueue.raise({ type: 'xraft.fail', reason: effect.reason });
              break;
            case 'snapshot':
              enqueue.emit({ type: 'snapshot', how: effect.how, index: effect.meta.index, term: effect.meta.term });
              break;
            case 'persist':
              enqueue.sendTo('logStore', {
                type: 'SaveLog',
                writeId: effect.writeId,
                hardState: effect.hardState,
                truncateFrom: effect.truncateFrom,
                entries: effect.entries,
              });
              break;
            case 'send':
              enqueue.sendTo('network', { type: 'Send', to: effect.to, message: effect.message });
              break;
            case 'apply':
              enqueue.sendTo('stateMachine', { type: 'Apply', entries: effect.entries, proposals: effect.proposals });
              break;
            case 'resetElectionTimer':
              enqueue.sendTo('timer', { type: 'StartElectionTimer', afterMs: effect.afterMs, baseMs: runtime.electionTimeoutMs, leaderHeard: effect.leaderHeard === true });
              break;
            case 'resetHeartbeatTimer':
              enqueue.sendTo('timer', { type: 'StartHeartbeatTimer', afterMs: effect.afterMs });
              break;
            case 'cancelHeartbeatTimer':
              enqueue.sendTo('timer', { type: 'CancelHeartbeatTimer' });
              break;
            case 'proposalFailed':
              enqueue(() => runtime.waiters.failProposal(effect.id, effect.failure.leaderHint, effect.failure.outcome));
              break;
            case 'readReady':
              enqueue(() => runtime.readReady(effect.ids, effect.index));
              break;
            case 'readFailed':
              enqueue(() => runtime.waiters.failReads(effect.ids, effect.leaderHint));
              break;
            case 'settle':
              enqueue(() => runtime.waiters.settle(effect.results));
              break;
            case 'roleChanged':
              enqueue.emit({ type: 'roleChanged', role: effect.role, term: effect.term });
              break;
            case 'leaderChanged':
              enqueue(() => runtime.leaderChanged(effect.leader));
              enqueue.emit({ type: 'leaderChanged', leader: effect.leader, term: effect.term });
              // Operations that failed for want of a leader (after this event's own failures are recorded) go again.
              if (effect.leader !== null) enqueue.raise({ type: 'xraft.leaderKnown' });
              break;
            case 'snapshotFailed':
              enqueue(() => runtime.snapshotFailed(effect.unsupported, effect.message));
              enqueue.emit({ type: 'snapshotFailed', index: effect.meta.index, message: effect.message, unsupported: effect.unsupported });
              break;
            case 'membershipChanged':
              if (effect.addresses !== undefined) enqueue.sendTo('network', { type: 'SetPeerAddresses', addresses: effect.addresses });
              enqueue.emit({ type: 'membershipChanged', voters: effect.voters, learners: effect.learners, ...(effect.addresses === undefined ? {} : { addresses: effect.addresses }) });
              break;
            case 'transferAborted':
              enqueue(() => runtime.transferAborted(effect.reason));
              break;
            case 'refused':
              enqueue.emit({ type: 'refused', from: effect.from, messageType: effect.messageType, reason: effect.reason });
              break;
            case 'takeSnapshot':
            case 'compactLog':
            case 'readSnapshotChunk':
            case 'writeSnapshotChunk':
            case 'restoreSnapshot':
              break; // expanded above
          }
        }
        enqueue(() => runtime.afterEvent());
      }),
      emitApplied: emit(({ event }) => ({ type: 'applied' as const, index: event.type === 'Applied' ? event.index : 0 })),
      stopWithReason: assign(({ event }) => ({ stopReason: stopReasonOf(event) })),
      // Runs on the child's xstate.error.actor event, which the machine's event union does not list.
      stopOnChildError: assign(({ event }, { child }: { readonly child: string }) => ({
        stopReason: `the ${child} actor failed: ${describe((event as unknown as { readonly error: unknown }).error)}`,
      })),
      failWaiters: ({ context }) => context.runtime.failAll(context.stopReason ?? 'the node was stopped'),
      emitStopped: emit(({ context }) => ({ type: 'stopped' as const, error: context.stopReason })),
    },
  }).createMachine({
    id: 'node',
    context: ({ input }) => ({
      runtime: new NodeRuntime(input),
      id: input.id,
      role: 'recovering',
      term: 0,
      leader: null,
      commitIndex: 0,
      appliedIndex: 0,
      lastIndex: 0,
      snapshotIndex: 0,
      stopReason: null,
    }),
    invoke: [
      { id: 'timer', src: 'timer', input: ({ context }) => context.runtime.actors.timer, onError: stopOnChildError('timer') },
      { id: 'network', src: 'network', input: ({ context }) => context.runtime.actors.network, onError: stopOnChildError('network') },
      { id: 'logStore', src: 'logStore', input: ({ context }) => context.runtime.actors.logStore, onError: stopOnChildError('log store') },
      {
        id: 'stateMachine',
        src: 'stateMachine',
        input: ({ context }) => context.runtime.actors.stateMachine,
        onError: stopOnChildError('state machine'),
      },
    ],
    initial: 'recovering',
    on: {
      'xraft.stop': '.stopped',
      StoreFailed: { target: '.stopped', actions: 'stopWithReason' },
      'xraft.fail': { target: '.stopped', actions: 'stopWithReason' },
      // Snapshot traffic, while recovering (restore from the stored snapshot) and while running.
      SnapshotChunkTaken: { actions: ['step', 'dispatch'] },
      SnapshotFailed: { actions: ['step', 'dispatch'] },
      SnapshotChunkConsumed: { actions: ['step', 'dispatch'] },
      SnapshotRestored: { actions: ['step', 'dispatch'] },
      SnapshotChunkStored: { actions: ['step', 'dispatch'] },
      SnapshotChunkLoaded: { actions: ['step', 'dispatch'] },
    },
    states: {
      recovering: {
        entry: enqueueActions(({ enqueue }) => enqueue.sendTo('logStore', { type: 'Load' })),
        // With a snapshot, the state machine is restored before the core exists; the node runs once it does.
        always: { guard: ({ context }) => context.role !== 'recovering', target: 'running' },
        on: {
          Loaded: { actions: ['step', 'dispatch'] },
          'xraft.propose': { actions: ['step', 'dispatch'] },
          'xraft.read': { actions: ['step', 'dispatch'] },
        },
      },
      running: {
        initial: 'follower',
        always: { guard: roleIs('removed'), target: 'removed' },
        on: coreEvents,
        states: {
          follower: { always: followRoleExcept('follower') },
          preCandidate: { always: followRoleExcept('preCandidate') },
          candidate: { always: followRoleExcept('candidate') },
          leader: { always: followRoleExcept('leader') },
        },
      },
      /** A committed configuration no longer holds this node: it never campaigns again, refuses operations, answers status. */
      removed: {
        // No way back: a removed id never rejoins (the core guarantees it); a core that says otherwise stops the node.
        always: {
          guard: ({ context }) => context.role !== 'removed',
          target: 'stopped',
          actions: assign({ stopReason: ({ context }) => `invalid transition [removed -> ${context.role}]` }),
        },
        on: coreEvents,
      },
      stopped: {
        type: 'final',
        entry: [assign({ role: 'stopped' as const }), 'failWaiters', 'emitStopped'],
      },
    },
  });
}
