/**
 * A node's one way in: every event for it (its actors' replies, the handle's operations) is delivered here, one at a
 * time, in arrival order; an event that arrives while one is being handled waits its turn, as in xstate's mailbox.
 *
 * Most events on the data path move nothing the statechart shows: a follower stores an append and answers it, a
 * leader counts an acknowledgement, the state machine applies a batch. Each would still cost a full statechart step
 * (a new snapshot, its context, the eventless role checks, one child event per effect), which measured as about half
 * of the node's CPU per write. So, while the statechart is in a role, the inbox feeds such an event to the runtime
 * itself and, when the effects are only messages for the actors and answers to callers (`laneEffects`) and the role,
 * term and leader stay as they were, hands them to the actors directly. Anything else (a role change, a new term or
 * leader, a membership change, a snapshot, a refused message, a failure) goes on to the statechart as
 * `xraft.stepped`, which mirrors the runtime's scalars and dispatches the same outbox: the statechart sees every
 * change of state, and one table (effects.ts) says what each effect becomes on both paths.
 *
 * With an inspector attached (`lane: false`) every event goes through the statechart, so the inspector sees them all.
 */
import type { Actor as XstateActor } from 'xstate';
import type { createNodeMachine, NodeEmitted, NodeEvent } from './machine.js';
import { feed } from './feed.js';
import { childFailure, laneEffects, performEffects, type ChildMessages, type EffectSink } from './effects.js';
import type { NodeRuntime } from './runtime.js';

type Applied = Extract<NodeEmitted, { type: 'applied' }>;

/** Events the inbox may handle without the statechart (each one's outcome decides whether it does). */
const laneEvents: ReadonlySet<string> = new Set([
  'Received',
  'LogSaved',
  'Applied',
  'HeartbeatDue',
  'ElectionTimeout',
  'PeerUnreachable',
  'xraft.propose',
  'xraft.read',
  'xraft.commitNotice',
  'xraft.leaderKnown',
]);

const roles: ReadonlySet<string> = new Set(['follower', 'preCandidate', 'candidate', 'leader']);

export class NodeInbox<Command, Result, AppError> {
  private readonly queue: NodeEvent<Result, AppError>[] = [];
  private busy = false;
  private readonly appliedListeners = new Set<(event: Applied) => void>();
  private readonly steppedListeners = new Set<() => void>();
  /** The first actor that threw while the lane handed it a message, with what it threw. */
  private childFailure: string | null = null;
  private readonly sink: EffectSink;

  constructor(
    private readonly actor: XstateActor<ReturnType<typeof createNodeMachine<Command, Result, AppError>>>,
    private readonly runtime: NodeRuntime<Command, Result, AppError>,
    private readonly lane: boolean,
  ) {
    runtime.inbox = (event) => this.deliver(event);
    this.sink = {
      toChild: (child, message) => this.toChild(child, message),
      // Unreachable: the lane only performs `laneEffects`, none of which emits or raises.
      emit: () => undefined,
      raise: () => undefined,
      call: (work) => work(),
    };
  }

  /** Handle `event` now, or after the event being handled (and those queued before it). */
  deliver(event: NodeEvent<Result, AppError>): void {
    this.queue.push(event);
    if (this.busy) return;
    this.busy = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) this.handle(next);
    } finally {
      this.busy = false;
    }
  }

  /**
   * Listen for the `applied` events of the Applied replies the inbox stepped itself; the statechart emits those of the
   * ones it handles (a handle's `on('applied')` listens to both, and each reply reaches one).
   */
  onApplied(listener: (event: Applied) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /** Called after every event the inbox handled, on either path (the simulator checks safety here). */
  onStepped(listener: () => void): () => void {
    this.steppedListeners.add(listener);
    return () => this.steppedListeners.delete(listener);
  }

  private handle(event: NodeEvent<Result, AppError>): void {
    const snapshot = this.actor.getSnapshot();
    if (snapshot.status !== 'active') return; // a stopped node hears nothing (xstate would drop it too)
    const { context } = snapshot;
    if (!this.lane || !laneEvents.has(event.type) || !roles.has(context.role)) this.actor.send(event);
    else {
      try {
        this.step(event, context);
      } catch (error) {
        // What the statechart does when one of its actions throws: the node stops, with the error as its reason.
        this.childFailure = null;
        this.actor.send({ type: 'xraft.fail', reason: `the node failed: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
    for (const listener of this.steppedListeners) listener();
  }

  /** Feed `event` to the runtime; perform its effects here, or hand them to the statechart when they may move it. */
  private step(event: NodeEvent<Result, AppError>, before: { readonly role: string; readonly term: number; readonly leader: string | null }): void {
    const { runtime } = this;
    feed(runtime, event);
    const core = runtime.core;
    const moved = core === null || core.role !== before.role || core.term !== before.term || core.leader !== before.leader;
    if (moved || !runtime.outbox.every((effect) => laneEffects.has(effect.type))) {
      this.actor.send({ type: 'xraft.stepped' });
    } else {
      performEffects(runtime, this.sink);
      const failure = this.childFailure;
      this.childFailure = null;
      if (failure !== null) this.actor.send({ type: 'xraft.fail', reason: failure });
    }
    if (event.type === 'Applied') this.emitApplied(event.index);
  }

  private toChild<Name extends keyof ChildMessages>(child: Name, message: ChildMessages[Name]): void {
    try {
      (this.runtime.actors[child] as { receive(message: ChildMessages[Name]): void }).receive(message);
    } catch (error) {
      this.childFailure ??= childFailure(child, error);
    }
  }

  private emitApplied(index: number): void {
    if (this.appliedListeners.size === 0) return;
    const event: Applied = { type: 'applied', index };
    for (const listener of this.appliedListeners) {
      try {
        listener(event);
      } catch (error) {
        // As xstate treats a throwing listener of an emitted event: the observer's bug, reported, not the node's.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
