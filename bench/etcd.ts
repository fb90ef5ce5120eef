/**
 * A local three-member etcd for comparison: the `etcd` binary on PATH (Debian's `etcd-server`), loopback ports, a
 * temp data dir, etcd's defaults otherwise (fsync on, heartbeat 100 ms, election 1 s). Clients speak to its JSON
 * gateway: `/v3/` on 3.4 and later, `/v3beta/` on 3.3.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { request } from 'undici';
import { waitHealthy, type BenchCluster, type LeaderView, type Member } from './benchCluster.js';
import { freePorts, makeTempDir, removeTempDir, ServerProcess } from './processes.js';

/** The installed etcd's version and gateway prefix, or why there is none. */
export function findEtcd(): { binary: string; version: string; gateway: string } | { missing: string } {
  const which = spawnSync('which', ['etcd'], { encoding: 'utf8' });
  const binary = which.stdout.trim();
  if (which.status !== 0 || binary === '') return { missing: 'no `etcd` binary on PATH (Debian: apt-get install etcd-server)' };
  const versionText = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout;
  const version = /etcd Version: (\d+\.\d+\.\d+)/.exec(versionText)?.[1];
  if (version === undefined) return { missing: `${binary} --version did not say its version: ${versionText.slice(0, 200)}` };
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if (major < 3 || (major === 3 && minor < 3)) return { missing: `etcd ${version} has no v3 JSON gateway the benchmark can use` };
  return { binary, version, gateway: major === 3 && minor === 3 ? '/v3beta' : '/v3' };
}

interface EtcdStatus {
  readonly header: { readonly member_id: string };
  readonly leader?: string;
  readonly raftTerm?: string;
  readonly raftIndex?: string;
  readonly raftAppliedIndex?: string;
}

export class EtcdCluster implements BenchCluster {
  readonly system = 'etcd';
  /** etcd's member id (decimal, as the gateway prints uint64) -> our member id. */
  private readonly memberIds = new Map<string, string>();

  private constructor(readonly members: readonly Member[], readonly gateway: string, readonly version: string, private readonly dir: string) {}

  static async start(): Promise<EtcdCluster> {
    const etcd = findEtcd();
    if ('missing' in etcd) throw new Error(etcd.missing);
    const dir = makeTempDir('xraft-bench-etcd-');
    const ids = ['e1', 'e2', 'e3'];
    const ports = await freePorts(6);
    const peerUrl = (at: number): string => `http://127.0.0.1:${ports[at]}`;
    const clientUrl = (at: number): string => `http://127.0.0.1:${ports[at + 3]}`;
    const initialCluster = ids.map((id, at) => `${id}=${peerUrl(at)}`).join(',');
    const members = ids.map((id, at): Member => {
      const args = [
        '--name', id, '--data-dir', join(dir, id),
        '--listen-peer-urls', peerUrl(at), '--initial-advertise-peer-urls', peerUrl(at),
        '--listen-client-urls', clientUrl(at), '--advertise-client-urls', clientUrl(at),
        '--initial-cluster', initialCluster, '--initial-cluster-token', 'xraft-bench', '--initial-cluster-state', 'new',
      ];
      return { id, clientUrl: clientUrl(at), process: new ServerProcess(`etcd ${id}`, etcd.binary, args, join(dir, `${id}.log`)) };
    });
    const cluster = new EtcdCluster(members, etcd.gateway, etcd.version, dir);
    try {
      await Promise.all(members.map((member) => member.process.start(isReady)));
      for (const member of members) {
        const status = await cluster.status(member, 5000);
        if (status === null) throw new Error(`etcd ${member.id} does not answer ${etcd.gateway}/maintenance/status`);
        cluster.memberIds.set(status.header.member_id, member.id);
      }
      await cluster.waitHealthy(30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async status(member: Member, timeoutMs: number): Promise<EtcdStatus | null> {
    try {
      const answer = await request(`${member.clientUrl}${this.gateway}/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(timeoutMs) });
      if (answer.statusCode !== 200) return (await answer.body.dump(), null);
      return (await answer.body.json()) as EtcdStatus;
    } catch {
      return null;
    }
  }

  async view(member: Member, timeoutMs = 1000): Promise<LeaderView | null> {
    const status = await this.status(member, timeoutMs);
    if (status === null) return null;
    const leader = status.leader === undefined || status.leader === '0' ? null : (this.memberIds.get(status.leader) ?? null);
    return { leader, term: Number(status.raftTerm ?? 0), commitIndex: Number(status.raftIndex ?? 0), appliedIndex: Number(status.raftAppliedIndex ?? status.raftIndex ?? 0) };
  }

  waitHealthy(timeoutMs = 30_000): Promise<Member> {
    return waitHealthy(this, timeoutMs);
  }

  restart(member: Member): Promise<void> {
    return member.process.start(isReady);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => member.process.stop()));
    removeTempDir(this.dir);
  }
}

const isReady = (output: string): boolean => output.includes('ready to serve client requests');
