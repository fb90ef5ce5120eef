/**
 * xraft: an actor-model Raft framework for TypeScript.
 *
 * - `createRaftNode` starts a node around your `StateMachine` subclass.
 * - The actors (timer, network, log store, state machine) are abstract classes with typed handlers; subclass them to
 *   plug in your own storage or transport.
 * - `xraft/core` is the pure protocol, for those who want to drive it themselves.
 */
export { createRaftNode, DEFAULT_MAX_COMMAND_BYTES, type RaftNode, type RaftNodeOptions, type NodeStatus, type RaftNodeEvent } from './createRaftNode.js';
export { createNodeMachine, type NodeContext, type NodeEvent, type NodeEmitted } from './node/machine.js';
export { NodeRuntime, type NodeInput, type NodeActors } from './node/runtime.js';
export { createCommandCodec, type CommandCodec } from './codec.js';
export * from './errors.js';
export { Actor, fromActor, type ActorChild, type Message } from './actor.js';
export {
  defaultRaftConfig,
  seededRandom,
  type Entry,
  type EntryKind,
  type HardState,
  type NodeId,
  type RaftConfig,
  type RaftMessage,
  type RandomSource,
  type RecoveredState,
  type Role,
} from './core/index.js';

export * from '../actors/timer/TimerActor.js';
export { RealTimer } from '../actors/timer/RealTimer.js';
export { ManualTimer } from '../actors/timer/ManualTimer.js';
export { FixedTimeout, PhiAccrualDetector, type FailureDetector, type PhiAccrualOptions } from '../actors/timer/FailureDetector.js';
export * from '../actors/network/NetworkActor.js';
export { MemoryNetwork, MemoryNetworkHub } from '../actors/network/MemoryNetwork.js';
export * from '../actors/log-store/LogStore.js';
export { MemoryLogStore, type MemoryLogStoreOptions } from '../actors/log-store/MemoryLogStore.js';
export * from '../actors/state-machine/StateMachine.js';
export { ReducerStateMachine, type Reducer } from '../actors/state-machine/ReducerStateMachine.js';

// Multi-Raft: many groups per process (docs/multiraft.md).
export { RaftHost, type RaftHostOptions, type GroupOptions, type GroupStatus, type HostStatus } from './host/RaftHost.js';
export { TimerWheel, WheelTimer } from './host/TimerWheel.js';
export * from '../actors/network/HostNetwork.js';
export { MemoryHostNetwork, MemoryHostNetworkHub } from '../actors/network/MemoryHostNetwork.js';
