/**
 * The node statechart: recovering -> follower <-> preCandidate -> candidate -> leader, and stopped.
 *
 * The statechart owns the wiring: it invokes the four actors as children, turns their replies into core inputs, and
 * sends the core's effects to the children with `sendTo`. The core decides role changes; the statechart mirrors them
 * as states, so an inspector shows the node's role and every event that moved it.
 *
 * One xstate event per batch, never per entry: proposals arrive as one `xraft.propose` per turn, the log store
 * acknowledges a group of writes with one `LogSaved`, the state machine answers a batch with one `Applied`.
 */
import { assign, emit, enqueueActions, setup } from 'xstate';
import type { Effect, MembershipChange, NodeId, Proposal, Role } from '../core/index.js';
import { fromActor } from '../actor.js';
import type { LogStoreMessage, LogStoreReply } from '../../actors/log-store/LogStore.js';
import type { NetworkMessage, NetworkReply } from '../../actors/network/NetworkActor.js';
import type { StateMachineMessage, StateMachineReply } from '../../actors/state-machine/StateMachine.js';
import type { TimerMessage, TimerReply } from '../../actors/timer/TimerActor.js';
import { NodeRuntime, type NodeInput, type SnapshotOrigin } from './runtime.js';

/** The scalars a node's statechart keeps in its context (and its handle reports in `status()`). */
export interface NodeScalars {
  readonly id: NodeId;
  readonly role: Role | 'recovering' | 'stopped';
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** Index of the latest snapshot stored on this node (0 without one). */
  readonly snapshotIndex: number;
}

export interface NodeContext<Command, Result, AppError> extends NodeScalars {
  readonly runtime: NodeRuntime<Command, Result, AppError>;
  /** Why the node stopped, when it stopped on a failure. */
  readonly error: string | null;
}

export type NodeEvent<Result, AppError> =
  | { readonly type: 'xraft.propose'; readonly proposals: readonly Proposal[] }
  | { readonly type: 'xraft.read'; readonly ids: readonly string[]; readonly lease: boolean }
  | { readonly type: 'xraft.changeMembership'; readonly id: string; readonly change: MembershipChange; readonly promote: boolean }
  | { readonly type: 'xraft.transferLeadership'; readonly target: NodeId | undefined }
  | { readonly type: 'xraft.campaign' }
  | { readonly type: 'xraft.snapshot' }
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
  | { readonly type: 'membershipChanged'; readonly voters: readonly NodeId[]; readonly learners: readonly NodeId[] }
  | { readonly type: 'stopped'; readonly error: string | null }
  /** A snapshot became this node's current one: taken here, installed from the leader, or restored on start. */
  | { readonly type: 'snapshot'; readonly how: SnapshotOrigin; readonly index: number; readonly term: number };

/** Core effects that the runtime turns into messages for the log store and the state machine. */
type SnapshotCommand = Extract<Effect, { type: 'takeSnapshot' | 'compactLog' | 'readSnapshotChunk' | 'writeSnapshotChunk' | 'restoreSnapshot' }>;
const snapshotCommands: ReadonlySet<string> = new Set(['takeSnapshot', 'compactLog', 'readSnapshotChunk', 'writeSnapshotChunk', 'restoreSnapshot']);
function isSnapshotCommand(effect: { readonly type: string }): effect is SnapshotCommand {
  return snapshotCommands.has(effect.type);
}

/** Build the statechart for a node whose commands, results and errors have the given types. */
export function createNodeMachine<Command, Result, AppError>() {
  type Context = NodeContext<Command, Result, AppError>;
  type Event = NodeEvent<Result, AppError>;

  const summary = (runtime: NodeRuntime<Command, Result, AppError>) => {
    const core = runtime.core;
    if (core === null) return {};
    return {
      role: core.role,
      term: core.term,
      leader: core.leader,
      commitIndex: core.commitIndex,
      appliedIndex: core.appliedIndex,
      lastIndex: core.lastIndex,
      snapshotIndex: core.snapshotIndex,
    };
  };

  const roleIs = (role: Role) => ({ context }: { context: Context }) => context.role === role;

  /** Eventless transitions that keep the active state equal to the core's role. */
  const roles: readonly Role[] = ['follower', 'preCandidate', 'candidate', 'leader'];
  const followRoleExcept = (current: Role) =>
    roles.filter((role) => role !== current).map((role) => ({ guard: roleIs(role), target: role }));

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
      /** Feed the event to the core; its effects wait in the runtime's outbox for `dispatch`. */
      step: assign(({ context, event }) => {
        const { runtime } = context;
        switch (event.type) {
          case 'Loaded':
            runtime.loaded(event.state);
            break;
          case 'SnapshotChunkTaken':
          case 'SnapshotFailed':
          case 'SnapshotChunkConsumed':
          case 'SnapshotRestored':
          case 'SnapshotChunkStored':
          case 'SnapshotChunkLoaded':
            runtime.snapshotReply(event);
            break;
          case 'Received':
            runtime.step((core) => core.receive(event.from, event.message));
            break;
          case 'ElectionTimeout':
            runtime.step((core) => core.electionTimeout());
            break;
          case 'HeartbeatDue':
            runtime.step((core) => core.heartbeatDue(runtime.now()));
            break;
          case 'LogSaved':
            runtime.step((core) => core.persisted(event.writeId));
            break;
          case 'Applied':
            runtime.applied(event.index, event.results);
            break;
          case 'xraft.propose':
            runtime.propose(event.proposals);
            break;
          case 'xraft.read':
            runtime.read(event.ids, event.lease);
            break;
          case 'xraft.changeMembership':
            runtime.changeMembership(event.id, event.change, event.promote);
            break;
          case 'xraft.transferLeadership':
            runtime.transferLeadership(event.target);
            break;
          case 'xraft.campaign':
            runtime.step((core) => core.campaign());
            break;
          case 'xraft.snapshot':
            runtime.step((core) => core.snapshotNow());
            break;
          default:
            runtime.outbox = [];
        }
        return summary(runtime);
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
              enqueue.sendTo('timer', { type: 'StartElectionTimer', afterMs: effect.afterMs });
              break;
            case 'resetHeartbeatTimer':
              enqueue.sendTo('timer', { type: 'StartHeartbeatTimer', afterMs: effect.afterMs });
              break;
            case 'cancelHeartbeatTimer':
              enqueue.sendTo('timer', { type: 'CancelHeartbeatTimer' });
              break;
            case 'proposalFailed':
              enqueue(() => runtime.failProposal(effect.id, effect.failure.leaderHint, effect.failure.outcome));
              break;
            case 'readReady':
              enqueue(() => runtime.readReady(effect.ids, effect.index));
              break;
            case 'readFailed':
              enqueue(() => runtime.failReads(effect.ids, effect.leaderHint));
              break;
            case 'settle':
              enqueue(() => runtime.settle(effect.results));
              break;
            case 'roleChanged':
              enqueue.emit({ type: 'roleChanged', role: effect.role, term: effect.term });
              break;
            case 'leaderChanged':
              enqueue(() => runtime.leaderChanged(effect.leader));
              enqueue.emit({ type: 'leaderChanged', leader: effect.leader, term: effect.term });
              break;
            case 'membershipChanged':
              enqueue.emit({ type: 'membershipChanged', voters: effect.voters, learners: effect.learners });
              break;
            case 'transferAborted':
              enqueue(() => runtime.transferAborted(effect.reason));
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
      stopWithError: assign(({ event }) => ({
        error:
          event.type === 'StoreFailed'
            ? `log store failed (${event.cause.code}): ${event.cause.message}`
            : event.type === 'xraft.fail'
              ? event.reason
              : null,
      })),
      failWaiters: ({ context }) => context.runtime.failAll(context.error ?? 'the node was stopped'),
      emitStopped: emit(({ context }) => ({ type: 'stopped' as const, error: context.error })),
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
      error: null,
    }),
    invoke: [
      { id: 'timer', src: 'timer', input: ({ context }) => context.runtime.actors.timer },
      { id: 'network', src: 'network', input: ({ context }) => context.runtime.actors.network },
      { id: 'logStore', src: 'logStore', input: ({ context }) => context.runtime.actors.logStore },
      { id: 'stateMachine', src: 'stateMachine', input: ({ context }) => context.runtime.actors.stateMachine },
    ],
    initial: 'recovering',
    on: {
      'xraft.stop': '.stopped',
      StoreFailed: { target: '.stopped', actions: 'stopWithError' },
      'xraft.fail': { target: '.stopped', actions: 'stopWithError' },
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
        on: {
          Received: { actions: ['step', 'dispatch'] },
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
        },
        states: {
          follower: { always: followRoleExcept('follower') },
          preCandidate: { always: followRoleExcept('preCandidate') },
          candidate: { always: followRoleExcept('candidate') },
          leader: { always: followRoleExcept('leader') },
        },
      },
      stopped: {
        type: 'final',
        entry: [assign({ role: 'stopped' as const }), 'failWaiters', 'emitStopped'],
      },
    },
  });
}
