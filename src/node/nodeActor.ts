/**
 * A node as xstate actor plus its inbox, built one way for the handle (createRaftNode) and the simulator, so that the
 * simulator runs exactly the node users run. The actor is returned unstarted: subscribe first, then `start()` it.
 */
import { createActor, type Actor, type InspectionEvent, type Observer } from 'xstate';
import { NodeInbox } from './inbox.js';
import { createNodeMachine } from './machine.js';
import type { NodeRuntime } from './runtime.js';
import type { NodeInput } from './types.js';

/**
 * The statechart's definition, built once for every node of the process: it holds no node's state (each node's is
 * its runtime, in the actor's context). One per node cost about 40 KB of heap each, more than half of an idle node
 * (measured with thousands of groups per process, see docs/multiraft.md).
 */
let sharedMachine: ReturnType<typeof createNodeMachine> | null = null;

export interface NodeActor<Command, Result, AppError> {
  readonly actor: Actor<ReturnType<typeof createNodeMachine<Command, Result, AppError>>>;
  readonly runtime: NodeRuntime<Command, Result, AppError>;
  /** The node's way in: send every event here, not to the actor (see inbox.ts). */
  readonly inbox: NodeInbox<Command, Result, AppError>;
}

/** Build a node; with `inspect`, every event goes through the statechart so that the inspector sees them all. */
export function createNodeActor<Command, Result, AppError>(
  input: NodeInput<Command, Result, AppError>,
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void),
): NodeActor<Command, Result, AppError> {
  const machine = (sharedMachine ??= createNodeMachine()) as unknown as ReturnType<typeof createNodeMachine<Command, Result, AppError>>;
  const actor = createActor(machine, { input, ...(inspect === undefined ? {} : { inspect }) });
  const runtime = actor.getSnapshot().context.runtime;
  return { actor, runtime, inbox: new NodeInbox(actor, runtime, inspect === undefined) };
}
