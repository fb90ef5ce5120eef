/**
 * A Jepsen-style run: the KV example as real processes on separate test hosts, concurrent clients, faults on a
 * seeded schedule, then heal, settle and check what every client saw.
 *
 * Checks:
 * - linearizability of the whole history (test/support/linearizability.ts), timed-out operations maybe applied;
 * - no acknowledged write lost: every acknowledged append is in the final value of its key;
 * - convergence: after the heal every node applies the same state.
 *
 * The schedule of faults and operations is seeded; the processes, the kernel and the clock are not, so a seed
 * replays the same schedule, not the same interleaving.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../src/core/random.js';
import { checkLinearizable, type HistoryEntry, type KvOperation } from '../support/linearizability.js';
import { fetchStatus, kvRequest, type KvEndpoint } from './kvClient.js';
import type { StatusView } from '../support/processes.js';
import { NodeProcess } from './nodeProcess.js';
import { TestNetwork } from './testNetwork.js';

export type FaultKind = 'kill' | 'pause' | 'partition' | 'restart';

export interface JepsenOptions {
  readonly timeSeconds: number;
  readonly faults: readonly FaultKind[];
  readonly nodes: 3 | 5;
  readonly seed: number;
  /** The command that runs one KV node, given its flags. */
  readonly nodeCommand: (flags: readonly string[]) => string[];
  readonly log?: (line: string) => void;
  /** Keep the run directory even when the run passes. */
  readonly keep?: boolean;
}

export interface JepsenResult {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly operations: number;
  readonly acknowledged: number;
  readonly acknowledgedWrites: number;
  readonly unknown: number;
  readonly faults: number;
  readonly checkerMs: number;
  readonly partitions: string;
  /** Each node's snapshot index at the end (0: it never snapshotted nor installed one). */
  readonly snapshotIndexes: readonly number[];
  /** Snapshots nodes installed from a leader, as their logs say (`snapshot installed at index N`). */
  readonly snapshotsInstalled: number;
  readonly directory: string | null;
  readonly replay: string;
}

const APPEND_KEYS = ['a0', 'a1', 'a2'];
const REGISTER_KEYS = ['r0', 'r1'];
const REQUEST_TIMEOUT_MS = 1500;

export async function runJepsen(options: JepsenOptions): Promise<JepsenResult> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const directory = mkdtempSync(join(tmpdir(), 'xraft-jepsen-'));
  const network = TestNetwork.create(ids, `xj${process.pid % 1000}`, 1 + (process.pid % 254));
  if (!network.partitionsAvailable) log(`network namespaces unavailable (${network.limitation}): running on loopback without partitions`);
  const faults = options.faults.filter((fault) => fault !== 'partition' || network.partitionsAvailable);
  const basePort = network.partitionsAvailable ? 7000 : 20000 + (process.pid % 2000) * 10;
  const raftAddress = (i: number) => `${network.hosts[i]!.address}:${basePort + i}`;
  const httpAddress = (i: number) => `${network.hosts[i]!.address}:${basePort + 100 + i}`;
  const peers = ids.map((id, i) => `${id}=${raftAddress(i)}`).join(',');
  const endpoints: KvEndpoint[] = ids.map((_, i) => ({ http: httpAddress(i) }));
  const nodes = ids.map((id, i) => {
    mkdirSync(join(directory, id), { recursive: true });
    const flags = ['--id', id, '--raft', raftAddress(i), '--http', httpAddress(i), '--peers', peers, '--data', join(directory, id, 'data')];
    return new NodeProcess(network.host(id), options.nodeCommand(flags), join(directory, id, 'node.log'));
  });
  const history: HistoryEntry[] = [];
  const problems: string[] = [];
  let faultCount = 0;
  const replay = `npm run jepsen -- --time ${options.timeSeconds} --faults ${options.faults.join(',')} --nodes ${options.nodes} --seed ${options.seed}`;
  const started = performance.now();
  const now = () => performance.now() - started;

  try {
    for (const node of nodes) node.start();
    await settle(endpoints, 30_000, () => nodes.every((node) => node.state === 'running'));
    log(`cluster of ${options.nodes} up in ${Math.round(now())} ms; hosts ${network.hosts.map((host) => host.address).join(' ')}`);

    // Clients and faults run until the deadline.
    const deadline = now() + options.timeSeconds * 1000;
    let nextId = 0;
    const client = async (name: string): Promise<void> => {
      let sequence = 0;
      while (now() < deadline) {
        const target = Math.floor(random() * endpoints.length);
        const roll = random();
        let op: KvOperation;
        if (roll < 0.45) op = { kind: 'append', key: pick(APPEND_KEYS), value: `${name}.${++sequence};` };
        else if (roll < 0.6) op = { kind: 'put', key: pick(REGISTER_KEYS), value: `${name}.${++sequence}` };
        else op = { kind: 'get', key: pick([...APPEND_KEYS, ...REGISTER_KEYS]) };
        const call = now();
        const path = op.kind === 'append' ? `/kv/${op.key}/append` : `/kv/${op.key}`;
        const method = op.kind === 'get' ? 'GET' : op.kind === 'put' ? 'PUT' : 'POST';
        const outcome = await kvRequest(endpoints[target]!, method, path, op.kind === 'get' ? undefined : op.value, REQUEST_TIMEOUT_MS);
        const id = nextId++;
        if (outcome.kind === 'ok') history.push({ id, client: name, op, call, ret: now(), output: outcome.output });
        else if (outcome.kind === 'unknown') history.push({ id, client: name, op, call, ret: null, output: null });
        // A definite failure changed nothing: it is not part of the history.
        if (outcome.kind !== 'ok') await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const nemesis = async (): Promise<void> => {
      if (faults.length === 0) return;
      while (now() < deadline - 3000) {
        await pause(1000 + random() * 1000);
        if (now() >= deadline - 3000) break;
        const fault = pick(faults);
        const leader = await findLeader(endpoints, ids);
        const victim = leader !== null && random() < 0.6 ? leader : pick(ids);
        const node = nodes[ids.indexOf(victim)]!;
        const who = `${victim}${victim === leader ? ' (leader)' : ''}`;
        faultCount++;
        switch (fault) {
          case 'kill':
            log(`${Math.round(now())} ms: SIGKILL ${who}`);
            node.kill();
            await pause(1000 + random() * 2000);
            node.start();
            break;
          case 'pause':
            log(`${Math.round(now())} ms: SIGSTOP ${who}`);
            node.pause();
            await pause(1000 + random() * 2000);
            node.resume();
            break;
          case 'restart':
            log(`${Math.round(now())} ms: restart ${victim}`);
            await node.stop();
            node.start();
            break;
          case 'partition': {
            const shape = pick(['isolate', 'split', 'one-way']);
            if (shape === 'isolate') network.split([victim]);
            else if (shape === 'split') network.split(ids.filter(() => random() < 0.5).slice(0, Math.floor(ids.length / 2)).concat(victim));
            else network.block(victim, pick(ids.filter((id) => id !== victim)));
            log(`${Math.round(now())} ms: partition (${shape}) blocked: ${network.describeBlocked()}`);
            await pause(2000 + random() * 2000);
            network.heal();
            break;
          }
        }
      }
    };
    const clients = Array.from({ length: options.nodes * 2 }, (_, i) => client(`c${i}`));
    await Promise.all([...clients, nemesis()]);

    // Heal everything and let the cluster settle.
    network.heal();
    for (const node of nodes) {
      node.resume();
      node.start();
    }
    const settled = await settle(endpoints, 30_000, () => true);
    if (!settled) problems.push('the cluster did not settle within 30 s after the heal (no common leader and applied index)');

    const snapshotIndexes = (await Promise.all(endpoints.map((endpoint) => fetchStatus(endpoint)))).map((status) => status?.snapshotIndex ?? 0);
    // Convergence: every node's state, read locally once all applied the same index.
    const finals = await Promise.all(endpoints.map((endpoint) => readAll(endpoint)));
    const reference = JSON.stringify(finals[0]);
    for (const [i, state] of finals.entries()) {
      if (JSON.stringify(state) !== reference) problems.push(`node ${ids[i]} ended with ${JSON.stringify(state)}, node ${ids[0]} with ${reference}`);
    }
    const final = finals[0] ?? {};

    // No acknowledged append lost.
    for (const entry of history) {
      if (entry.op.kind === 'append' && entry.ret !== null && !(final[entry.op.key] ?? '').includes(entry.op.value)) {
        problems.push(`acknowledged append ${entry.op.value} to ${entry.op.key} is missing from the final value`);
      }
    }
    // Linearizability, with the final reads as the last operations. Unknown writes whose value nobody ever saw
    // cannot explain any output; dropping them keeps the search small and changes no verdict.
    const seen = history.map((entry) => entry.output ?? '').concat(Object.values(final)).join('\n');
    const checked = history.filter((entry) => entry.ret !== null || entry.op.kind === 'get' || seen.includes((entry.op as { value: string }).value));
    const end = now();
    for (const key of [...APPEND_KEYS, ...REGISTER_KEYS]) {
      checked.push({ id: nextId++, client: 'final', op: { kind: 'get', key }, call: end, ret: end + 1, output: final[key] ?? null });
    }
    const checkStarted = performance.now();
    const verdict = checkLinearizable(checked);
    const checkerMs = performance.now() - checkStarted;
    if (!verdict.ok) problems.push(`history is not linearizable on key ${verdict.key}`);

    const acknowledged = history.filter((entry) => entry.ret !== null);
    const result: JepsenResult = {
      ok: problems.length === 0,
      problems,
      operations: history.length,
      acknowledged: acknowledged.length,
      acknowledgedWrites: acknowledged.filter((entry) => entry.op.kind !== 'get').length,
      unknown: history.length - acknowledged.length,
      faults: faultCount,
      checkerMs,
      partitions: network.partitionsAvailable ? 'network namespaces' : `none (${network.limitation})`,
      snapshotIndexes,
      snapshotsInstalled: ids.reduce((sum, id) => sum + (readFileSync(join(directory, id, 'node.log'), 'utf8').match(/snapshot installed at index/g)?.length ?? 0), 0),
      directory: problems.length > 0 || options.keep === true ? directory : null,
      replay,
    };
    writeFileSync(join(directory, 'history.json'), JSON.stringify({ options: { ...options, nodeCommand: undefined }, result, history }, null, 1));
    return result;
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
    for (const node of nodes) node.close();
    network.destroy();
    if (problems.length === 0 && options.keep !== true) rmSync(directory, { recursive: true, force: true });
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function findLeader(endpoints: readonly KvEndpoint[], ids: readonly string[]): Promise<string | null> {
  const statuses = await Promise.all(endpoints.map((endpoint) => fetchStatus(endpoint, 500)));
  const leader = statuses.find((status) => status?.role === 'leader');
  return leader === undefined || leader === null ? null : ids.includes(leader.id) ? leader.id : null;
}

/** Wait (bounded) until every node reports the same leader and has applied the leader's commit index. */
async function settle(endpoints: readonly KvEndpoint[], withinMs: number, ready: () => boolean): Promise<boolean> {
  const until = performance.now() + withinMs;
  while (performance.now() < until) {
    const statuses = await Promise.all(endpoints.map((endpoint) => fetchStatus(endpoint)));
    if (ready() && converged(statuses)) return true;
    await pause(100);
  }
  return false;
}

function converged(statuses: readonly (StatusView | null)[]): boolean {
  if (statuses.some((status) => status === null)) return false;
  const leader = statuses.find((status) => status!.role === 'leader');
  if (leader === undefined) return false;
  return statuses.every((status) => status!.leader === leader!.id && status!.appliedIndex === leader!.commitIndex);
}

async function readAll(endpoint: KvEndpoint): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const key of [...APPEND_KEYS, ...REGISTER_KEYS]) {
    const outcome = await kvRequest(endpoint, 'GET', `/kv/${key}?consistency=stale`, undefined, 5000);
    if (outcome.kind === 'ok' && outcome.output !== null) state[key] = outcome.output;
  }
  return state;
}
