/**
 * Which runtime method each node event is: the statechart's `step` action and the node's inbox feed events the same way.
 */
import type { NodeEvent } from './machine.js';
import type { NodeRuntime } from './runtime.js';

/**
 * Feed one event to the runtime, whose effects then wait in its outbox for `dispatch`. A thin dispatch: each event
 * has one named runtime method.
 */
export function feed<Command, Result, AppError>(runtime: NodeRuntime<Command, Result, AppError>, event: NodeEvent<Result, AppError>): void {
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
