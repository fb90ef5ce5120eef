/**
 * An xstate supervisor for xraft nodes: a node is actor logic (`createNodeMachine`), so an application can run its
 * nodes as children of its own machine, next to its own actors, and supervise them the Erlang way.
 *
 * - One parallel region per node: `running` invokes the node; when the node stops (a failure such as a broken disk,
 *   or `xraft.fail`) the region goes to `restarting`, waits `restartDelayMs`, and invokes a fresh node built by
 *   `nodeInput(id, incarnation)` (same log store, new state machine: the node recovers from its log).
 * - Every node's snapshot is observed (`onSnapshot`): the supervisor records which of its nodes leads, and emits
 *   `supervisor.leaderChanged` / `supervisor.restarted` events for the application.
 * - The `leadership` region invokes the application actor `whileLeading` (e.g. the global timer's work loop, a
 *   cache warmer) only while one of this supervisor's nodes leads, handing it that node's id; it is stopped as
 *   soon as leadership moves away, by xstate itself.
 *
 * @example
 * const supervisor = createActor(createSupervisor<Command, Result>(), {
 *   input: { ids: ['n1'], nodeInput: (id) => ({ id, members: ['n1', 'n2', 'n3'], codec, actors: { ... } }) },
 * }).start();
 * supervisor.on('supervisor.leaderChanged', ({ leader }) => console.log('leading here:', leader));
 */
import { assign, emit, fromCallback, setup, type AnyEventObject, type CallbackActorLogic } from 'xstate';
import { createNodeMachine, type NodeInput } from '../../src/index.js';

export interface SupervisorInput<Command, Result, AppError> {
  /** The nodes this supervisor runs (usually one per process; several in tests and demos). */
  readonly ids: readonly string[];
  /** A node's input for its `incarnation` (0 first, then 1, 2, ... after each restart). */
  readonly nodeInput: (id: string, incarnation: number) => NodeInput<Command, Result, AppError>;
  readonly restartDelayMs?: number;
}

export interface SupervisorContext<Command, Result, AppError> extends SupervisorInput<Command, Result, AppError> {
  /** Restarts so far, by node id. */
  readonly incarnations: Readonly<Record<string, number>>;
  /** The supervised node that leads, if one does. */
  readonly leader: string | null;
}

export type SupervisorEmitted =
  | { readonly type: 'supervisor.leaderChanged'; readonly leader: string | null }
  | { readonly type: 'supervisor.restarted'; readonly id: string; readonly incarnation: number };

/** What runs while a supervised node leads: a callback actor with the leader's id as input. */
export type LeaderWork = CallbackActorLogic<AnyEventObject, { readonly leader: string }>;

/** The default work while leading: nothing. */
const idleWork: LeaderWork = fromCallback<AnyEventObject, { leader: string }>(() => undefined);

export function createSupervisor<Command, Result, AppError = unknown>(ids: readonly string[], whileLeading: LeaderWork = idleWork) {
  type Context = SupervisorContext<Command, Result, AppError>;
  const node = createNodeMachine<Command, Result, AppError>();
  type NodeSnapshot = ReturnType<typeof node.getInitialSnapshot>;

  const machine = setup({
    types: {
      context: {} as Context,
      input: {} as SupervisorInput<Command, Result, AppError>,
      emitted: {} as SupervisorEmitted,
    },
    actors: { node, whileLeading },
    delays: { restartDelay: ({ context }) => context.restartDelayMs ?? 100 },
  });

  /** One region per node: run it, and when it stops, start it again after a delay. */
  const region = (id: string) => ({
    initial: 'running',
    states: {
      running: {
        invoke: {
          id,
          systemId: `node-${id}`,
          src: 'node',
          input: ({ context }: { context: Context }) => context.nodeInput(id, context.incarnations[id] ?? 0),
          onSnapshot: {
            actions: [
              assign({
                leader: ({ context, event }: { context: Context; event: AnyEventObject }) => {
                  const role = (event.snapshot as NodeSnapshot).context.role;
                  if (role === 'leader') return id;
                  return context.leader === id ? null : context.leader;
                },
              }),
            ],
          },
          onDone: { target: 'restarting', actions: assign({ leader: ({ context }: { context: Context }) => (context.leader === id ? null : context.leader) }) },
          onError: 'restarting',
        },
      },
      restarting: {
        entry: [
          assign({ incarnations: ({ context }: { context: Context }) => ({ ...context.incarnations, [id]: (context.incarnations[id] ?? 0) + 1 }) }),
          emit(({ context }: { context: Context }) => ({ type: 'supervisor.restarted' as const, id, incarnation: context.incarnations[id]! })),
        ],
        after: { restartDelay: 'running' },
      },
    },
  });

  return machine.createMachine({
    id: 'supervisor',
    type: 'parallel',
    context: ({ input }) => ({ ...input, incarnations: {}, leader: null }),
    states: {
      // Regions built per node id: xstate cannot type a computed states record, the config of each is checked at run time.
      nodes: { type: 'parallel', states: Object.fromEntries(ids.map((id) => [id, region(id)])) as never },
      leadership: {
        initial: 'following',
        states: {
          following: {
            always: { guard: ({ context }) => context.leader !== null, target: 'leading', actions: emit(({ context }) => ({ type: 'supervisor.leaderChanged' as const, leader: context.leader })) },
          },
          leading: {
            invoke: { src: 'whileLeading', input: ({ context }) => ({ leader: context.leader! }) },
            always: { guard: ({ context }) => context.leader === null, target: 'following', actions: emit({ type: 'supervisor.leaderChanged' as const, leader: null }) },
          },
        },
      },
    },
  });
}
