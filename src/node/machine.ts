/**
 * The node statechart: recovering -> running (follower <-> preCandidate -> candidate -> leader) -> removed, and
 * stopped from anywhere.
 *
 * The statechart owns the wiring: it invokes the four actors as children, turns their replies into core inputs, and
 * sends the core's effects to the children with `sendTo`. The core decides role changes; the statechart mirrors them
 * as states, so an inspector shows the node's role and every event that moved it. A node built by createNodeActor
 * hears through its inbox (inbox.ts), which steps data-path events that cannot move the statechart itself and sends
 * the others here, as themselves or, once the runtime has stepped them, as `xraft.stepped`.
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
import { childFailure, performEffects, type ChildMessages } from './effects.js';
import { feed } from './feed.js';
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
  /** The node's inbox fed an event to the runtime, and its effects may move the statechart: mirror and dispatch them. */
  | { readonly type: 'xraft.stepped' }
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

/** Why a node stops on `event` (null for a graceful stop). */
function stopReasonOf(event: AnyNodeEvent): string | null {
  if (event.type === 'StoreFailed') return `log store failed (${event.cause.code}): ${event.cause.message}`;
  if (event.type === 'xraft.fail') return event.reason;
  return null;
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
    'xraft.stepped': { actions: ['mirror', 'dispatch'] },
  } as const;

  /** A failed child actor stops the node with a reason, instead of failing the node's actor silently. */
  const stopOnChildError = (child: keyof ChildMessages) => ({ target: '.stopped' as const, actions: { type: 'stopOnChildError' as const, params: { child } } });

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
        performEffects(context.runtime, {
          toChild: (child, message) => enqueue.sendTo(child, message),
          emit: (event) => enqueue.emit(event),
          raise: (event) => enqueue.raise(event),
          call: (work) => enqueue(work),
        });
      }),
      /** The node's inbox has fed the event to the runtime already (see inbox.ts): mirror its scalars. */
      mirror: assign(({ context }) => context.runtime.scalars() ?? {}),
      emitApplied: emit(({ event }) => ({ type: 'applied' as const, index: event.type === 'Applied' ? event.index : 0 })),
      stopWithReason: assign(({ event }) => ({ stopReason: stopReasonOf(event) })),
      // Runs on the child's xstate.error.actor event, which the machine's event union does not list.
      stopOnChildError: assign(({ event }, { child }: { readonly child: keyof ChildMessages }) => ({
        stopReason: childFailure(child, (event as unknown as { readonly error: unknown }).error),
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
      { id: 'timer', src: 'timer', input: ({ context }) => context.runtime.child('timer'), onError: stopOnChildError('timer') },
      { id: 'network', src: 'network', input: ({ context }) => context.runtime.child('network'), onError: stopOnChildError('network') },
      { id: 'logStore', src: 'logStore', input: ({ context }) => context.runtime.child('logStore'), onError: stopOnChildError('logStore') },
      {
        id: 'stateMachine',
        src: 'stateMachine',
        input: ({ context }) => context.runtime.child('stateMachine'),
        onError: stopOnChildError('stateMachine'),
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
