/**
 * Three KV example processes from the build (`node dist/examples/kv/main.js`) on loopback, the example's default log
 * store (FileLogStore; `--kv-flags=--log-store level` for LevelLogStore) in a temp dir, HTTP/2 between them: the
 * xraft side of the load and failover benchmarks.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { waitHealthy, type BenchCluster, type LeaderView, type Member } from './benchCluster.js';
import { ensureBuild, freePorts, makeTempDir, removeTempDir, ServerProcess } from './processes.js';

export interface KvClusterOptions {
  /** Build dist/ when stale (default), or only check it. */
  readonly build?: boolean;
  /** Extra flags for every node (e.g. `--election-timeout-ms 500`). */
  readonly flags?: readonly string[];
  /** Node options for every node (e.g. `--cpu-prof --cpu-prof-dir DIR`). */
  readonly nodeOptions?: readonly string[];
}

interface KvStatus {
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export class KvCluster implements BenchCluster {
  readonly system = 'xraft';

  private constructor(readonly members: readonly Member[], private readonly dir: string) {}

  static async start(options: KvClusterOptions = {}): Promise<KvCluster> {
    const main = ensureBuild(options.build ?? true);
    const dir = makeTempDir('xraft-bench-kv-');
    const ids = ['n1', 'n2', 'n3'];
    const ports = await freePorts(6);
    const peers = ids.map((id, at) => `${id}=127.0.0.1:${ports[at]}`).join(',');
    const members = ids.map((id, at): Member => {
      mkdirSync(join(dir, id));
      const args = [
        ...(options.nodeOptions ?? []), main,
        '--id', id, '--raft', `127.0.0.1:${ports[at]}`, '--http', `127.0.0.1:${ports[at + 3]}`,
        '--data', join(dir, id, 'data'), '--peers', peers, ...(options.flags ?? []),
      ];
      return { id, clientUrl: `http://127.0.0.1:${ports[at + 3]}`, process: new ServerProcess(`xraft ${id}`, process.execPath, args, join(dir, `${id}.log`)) };
    });
    const cluster = new KvCluster(members, dir);
    try {
      await Promise.all(members.map((member) => member.process.start(isListening)));
      await cluster.waitHealthy(30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  async view(member: Member, timeoutMs = 1000): Promise<LeaderView | null> {
    try {
      const answer = await request(`${member.clientUrl}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (answer.statusCode !== 200) return (await answer.body.dump(), null);
      const status = (await answer.body.json()) as KvStatus;
      // A leader names itself; a node that is not leading names whom it follows (null during an election).
      return { leader: status.role === 'leader' ? member.id : status.leader, term: status.term, appliedIndex: status.appliedIndex, commitIndex: status.commitIndex };
    } catch {
      return null;
    }
  }

  waitHealthy(timeoutMs = 30_000): Promise<Member> {
    return waitHealthy(this, timeoutMs);
  }

  restart(member: Member): Promise<void> {
    return member.process.start(isListening);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process.stop()));
    removeTempDir(this.dir);
  }
}

const isListening = (output: string): boolean => output.includes('"event":"listening"');
