/**
 * What the load and failover benchmarks need of a three-member system under test, xraft's KV example or etcd:
 * its members' client addresses and processes, who leads, whether all are caught up, and restarting one.
 */
import { ServerProcess } from './processes.js';

export type SystemName = 'xraft' | 'etcd';

export interface Member {
  readonly id: string;
  /** `http://127.0.0.1:PORT`: the KV example's HTTP API, or etcd's client URL (its JSON gateway). */
  readonly clientUrl: string;
  readonly process: ServerProcess;
}

/** Who a member says leads, in which term (null: it does not answer). */
export interface LeaderView {
  readonly leader: string | null; // member id
  readonly term: number;
  readonly appliedIndex: number;
  readonly commitIndex: number;
}

export interface BenchCluster {
  readonly system: SystemName;
  readonly members: readonly Member[];
  /** One member's view, within `timeoutMs`; null when it does not answer. */
  view(member: Member, timeoutMs?: number): Promise<LeaderView | null>;
  /** Wait until every running member names the same leader and has applied what that leader had committed. */
  waitHealthy(timeoutMs?: number): Promise<Member>;
  /** Start a member whose process was killed, on its data. */
  restart(member: Member): Promise<void>;
  stop(): Promise<void>;
}

/** Members' views until all running members agree on one leader and are caught up with its commit index. */
export async function waitHealthy(cluster: BenchCluster, timeoutMs: number): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const running = cluster.members.filter((member) => member.process.running);
    const views = await Promise.all(running.map((member) => cluster.view(member, 1000)));
    last = JSON.stringify(views);
    const leaderId = views[0]?.leader ?? null;
    const leader = cluster.members.find((member) => member.id === leaderId);
    const leaderView = views[running.findIndex((member) => member.id === leaderId)];
    if (leader !== undefined && leaderView !== undefined && leaderView !== null && views.every((view) => view !== null && view.leader === leaderId)) {
      const commit = leaderView.commitIndex;
      const caughtUp = (await Promise.all(running.map((member) => cluster.view(member, 1000)))).every((view) => view !== null && view.appliedIndex >= commit);
      if (caughtUp) return leader;
    }
    await new Promise((resume) => setTimeout(resume, 50));
  }
  throw new Error(`${cluster.system}: not healthy within ${timeoutMs} ms (views: ${last})`);
}
