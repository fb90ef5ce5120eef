/**
 * The public entry point: a Raft node around the user's state machine, as a handle with promises and events.
 */
import { nanoid } from 'nanoid';
import { createActor, type Actor as XstateActor, type InspectionEvent, type Observer, type Subscription } from 'xstate';
import type { z } from 'zod';
import type { LogStore } from '../actors/log-store/LogStore.js';
import { MemoryLogStore } from '../actors/log-store/MemoryLogStore.js';
import type { NetworkActor } from '../actors/network/NetworkActor.js';
import type { StateMachine } from '../actors/state-machine/StateMachine.js';
import { RealTimer } from '../actors/timer/RealTimer.js';
import type { TimerActor } from '../actors/timer/TimerActor.js';
import { createCommandCodec } from './codec.js';
import type { NodeId, Proposal, RaftConfig, RandomSource, Role } from './core/index.js';
import { StoppedError, type XraftError } from './errors.js';
import { createNodeMachine, type NodeEmitted } from './node/machine.js';

export interface RaftNodeOptions<Command, Result, AppError> {
  /** This node's id; unique in the cluster. */
  readonly id: NodeId;
  /** Every voting member of the cluster, this node included. */
  readonly members: readonly NodeId[];
  /** The schema every command must satisfy: checked on every proposal and on every entry decoded from the log. */
  readonly commandSchema: z.ZodType<Command>;
  /** The application's replicated state. */
  readonly stateMachine: StateMachine<Command, Result, AppError>;
  /** How this node reaches its peers. */
  readonly network: NetworkActor;
  /** Where the log and hard state live. Default: a `MemoryLogStore` (not durable across processes). */
  readonly logStore?: LogStore;
  /** Where time comes from. Default: a `RealTimer`. */
  readonly timer?: TimerActor;
  readonly config?: Partial<RaftConfig>;
  /** Randomness for election jitter (inject a seeded source for reproducible runs). */
  readonly random?: RandomSource;
  /** xstate inspection observer, e.g. `createBrowserInspector().inspect` from @statelyai/inspect. */
  readonly inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: Role | 'recovering' | 'stopped';
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly members: readonly NodeId[];
}

export type RaftNodeEvent = NodeEmitted;

export interface RaftNode<Command, Result> {
  readonly id: NodeId;
  /**
   * Replicate `command` and resolve with the state machine's result once it is committed and applied here.
   * Rejects with `NotLeaderError` (see its `outcome`), `RejectedError` (the state machine threw),
   * `InvalidCommandError` (the schema refused it; nothing was proposed) or `StoppedError`.
   */
  propose(command: Command): Promise<Result>;
  status(): NodeStatus;
  /** Campaign at once instead of waiting for the election timeout (for example right after a bootstrap). */
  campaign(): void;
  /** Stop the node: children are stopped, the log store flushes, waiting proposals reject with `StoppedError`. */
  stop(): Promise<void>;
  /** Observe role, leader, applied-index and stop events. */
  on<Type extends RaftNodeEvent['type']>(type: Type, listener: (event: Extract<RaftNodeEvent, { type: Type }>) => void): Subscription;
  /** The underlying xstate actor, for composition and inspection. */
  readonly actor: XstateActor<ReturnType<typeof createNodeMachine>>;
}

/**
 * Create and start a Raft node.
 *
 * @example
 * const node = createRaftNode({
 *   id: 'n1',
 *   members: ['n1', 'n2', 'n3'],
 *   commandSchema: z.object({ key: z.string(), value: z.string() }),
 *   stateMachine: new ReducerStateMachine(new Map<string, string>(), (map, { key, value }) => [map.set(key, value), value]),
 *   network: hub.endpoint('n1'),
 * });
 * const result = await node.propose({ key: 'a', value: '1' });
 */
export function createRaftNode<Command, Result = unknown, AppError = unknown>(
  options: RaftNodeOptions<Command, Result, AppError>,
): RaftNode<Command, Result> {
  const codec = createCommandCodec(options.commandSchema);
  const machine = createNodeMachine<Command, Result, AppError>();
  const actor = createActor(machine, {
    input: {
      id: options.id,
      members: options.members,
      codec,
      config: options.config,
      random: options.random,
      actors: {
        timer: options.timer ?? new RealTimer(),
        network: options.network,
        logStore: options.logStore ?? new MemoryLogStore(),
        stateMachine: options.stateMachine,
      },
    },
    inspect: options.inspect,
  });
  // An unobserved actor error would crash the process; surface it as a stop instead.
  let failure: unknown = null;
  actor.subscribe({ error: (error) => (failure = error) });
  const runtime = actor.getSnapshot().context.runtime;

  let batch: Proposal[] = [];
  const flush = (): void => {
    const proposals = batch;
    batch = [];
    // A node stopped in the meantime has already rejected these callers with StoppedError.
    if (actor.getSnapshot().status === 'active') actor.send({ type: 'xraft.propose', proposals });
  };

  actor.start();

  return {
    id: options.id,
    actor: actor as unknown as RaftNode<Command, Result>['actor'],
    propose(command: Command): Promise<Result> {
      let data: string;
      try {
        data = codec.encode(command);
      } catch (error) {
        return Promise.reject(error);
      }
      if (actor.getSnapshot().status !== 'active') return Promise.reject(new StoppedError(stoppedReason(failure)));
      const id = nanoid();
      const result = new Promise<Result>((resolve, reject) => runtime.track(id, { resolve, reject: (error: XraftError) => reject(error) }));
      // Proposals made in the same turn travel as one batch: one event, one write, one AppendEntries per follower.
      if (batch.length === 0) queueMicrotask(flush);
      batch.push({ id, data });
      return result;
    },
    status(): NodeStatus {
      const { context } = actor.getSnapshot();
      return {
        id: context.id,
        role: context.role,
        term: context.term,
        leader: context.leader,
        commitIndex: context.commitIndex,
        appliedIndex: context.appliedIndex,
        lastIndex: context.lastIndex,
        members: runtime.members,
      };
    },
    campaign(): void {
      actor.send({ type: 'xraft.campaign' });
    },
    async stop(): Promise<void> {
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'xraft.stop' });
      actor.stop();
    },
    on(type, listener) {
      return actor.on(type, listener as (event: NodeEmitted) => void);
    },
  };
}

function stoppedReason(failure: unknown): string {
  return failure === null ? 'the node is stopped' : `the node stopped: ${failure instanceof Error ? failure.message : String(failure)}`;
}
