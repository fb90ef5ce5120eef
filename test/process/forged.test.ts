/**
 * Forged messages against three processes of the key-value example (issue 13, point 4). Once a leader is elected and
 * some writes are applied, one message of every kind that passes the wire schema but breaks a protocol invariant is
 * posted to a follower's raft port (the responses a leader acts on also to the leader's), each from a real member,
 * with the cluster's id and the current term. Each must be refused, either by the wire (400 INVALID_MESSAGE) or by the
 * core (a `refused` event), and logged with its sender (except two that a correct leader far ahead could send too:
 * those are answered as usual); and each must change nothing: every process keeps running, no
 * target stops or changes its term, the follower keeps applying the writes made after each forgery, and no forged
 * entry is ever applied anywhere.
 *
 * The inputs depend only on the cluster's state when the forgeries start (its term and last index), never on a seed.
 * Forged appends claim to come from the leader itself, in its own term, so that a lax follower would take them for
 * the leader's; their round is 0, so that the follower's answers (which go to the real leader) are answers to rounds
 * the leader did send.
 */
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MESSAGES_PATH } from '../../actors/network/Http2Network.js';
import type { KvProcess, KvStatus } from '../examples/support.js';
import { RawClient, waitFor } from '../network/support.js';
import { KvCluster } from './support.js';

const CLUSTER_ID = 'forged';
/** Far beyond any log this test makes, and small enough that index arithmetic on it stays exact. */
const FAR = 2 ** 50;
/** What a node reports while it takes part in the protocol. */
const LIVE_ROLES: string[] = ['follower', 'preCandidate', 'candidate', 'leader'];

/** The cluster when the forgeries start; every forged message is made from it. */
interface Scene {
  readonly leader: KvProcess;
  /** The target follower: one that did not campaign in `term`, so that no vote response in `term` can be one it asked for. */
  readonly follower: KvProcess;
  readonly other: KvProcess;
  readonly term: number;
}
/** The target's log when a forgery is made: every forged append continues it in the current term. */
interface Forging extends Scene {
  readonly lastIndex: number;
  readonly commitIndex: number;
}
type Role = 'leader' | 'follower' | 'other';
type Message = { readonly type: string } & Record<string, unknown>;

interface Forgery {
  readonly name: string;
  readonly to: Exclude<Role, 'other'>;
  readonly from: Role;
  readonly message: (scene: Forging) => Message;
  /**
   * Why this one is not refused: it could come from a correct leader far ahead of the target (whose log it cannot
   * know), so the target answers it as usual (rejects the append, or commits no further than its own log). It must
   * still change nothing.
   */
  readonly indistinguishable?: string;
}

/** Keys written through the leader and acknowledged: every node must end up with all of them. */
const written: string[] = [];
/** Keys that forged entries would write: none may ever be applied. */
const forgedKeys: string[] = [];
function put(key: string): string {
  forgedKeys.push(key);
  return superjson.stringify({ op: 'put', key, value: 'forged' });
}
const command = (index: number, term: number, data: string) => ({ index, term, kind: 'command', data });
/** An append that passes the consistency check at the end of every log, in the current term, committing nothing new. */
const append = (scene: Forging, fields: Record<string, unknown>): Message => ({
  type: 'AppendEntries',
  term: scene.term,
  prevLogIndex: scene.lastIndex,
  prevLogTerm: scene.term,
  entries: [],
  leaderCommit: scene.commitIndex,
  round: 0,
  ...fields,
});

const forgeries: readonly Forgery[] = [
  {
    name: 'an AppendEntries whose entries are not contiguous',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { entries: [command(scene.lastIndex + 1, scene.term, put('forged-gap-1')), command(scene.lastIndex + 3, scene.term, put('forged-gap-3'))] }),
  },
  {
    name: "an AppendEntries with an entry whose term is above the message's",
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { entries: [command(scene.lastIndex + 1, scene.term + 1, put('forged-future-term'))] }),
  },
  {
    name: 'an AppendEntries with a config entry that does not decode',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { entries: [{ index: scene.lastIndex + 1, term: scene.term, kind: 'config', data: '{"voters":"all of them"}' }] }),
  },
  {
    name: 'an AppendEntries with a command entry that is superjson but not a KV command',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { entries: [command(scene.lastIndex + 1, scene.term, superjson.stringify({ op: 'explode', key: 'forged-op' }))] }),
  },
  {
    name: 'an AppendEntries with a command entry that is not superjson',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { entries: [command(scene.lastIndex + 1, scene.term, '{"json":')] }),
  },
  {
    name: 'an AppendEntries whose leaderCommit is far beyond any log',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { leaderCommit: FAR }),
    indistinguishable: "a leader's commit index may be far beyond a lagging follower's log; the follower commits only what it holds",
  },
  {
    name: 'an AppendEntries whose prevLogIndex is far beyond any log',
    to: 'follower',
    from: 'leader',
    message: (scene) => append(scene, { prevLogIndex: FAR, entries: [command(FAR + 1, scene.term, put('forged-far'))] }),
    indistinguishable: "a leader probes a follower at the end of its own log, which may be far beyond the follower's",
  },
  {
    name: 'an AppendEntriesResponse for a round never sent, beyond the log',
    to: 'follower',
    from: 'other',
    message: (scene) => ({ type: 'AppendEntriesResponse', term: scene.term, success: true, index: FAR, hintIndex: 0, hintTerm: 0, round: FAR }),
  },
  {
    name: 'an AppendEntriesResponse for a round never sent, beyond the log',
    to: 'leader',
    from: 'follower',
    message: (scene) => ({ type: 'AppendEntriesResponse', term: scene.term, success: true, index: FAR, hintIndex: 0, hintTerm: 0, round: FAR }),
  },
  {
    name: 'an InstallSnapshotResponse installing a snapshot never sent',
    to: 'follower',
    from: 'other',
    message: (scene) => ({ type: 'InstallSnapshotResponse', term: scene.term, index: FAR, nextChunk: 0, installed: true, round: 0 }),
  },
  {
    name: 'an InstallSnapshotResponse installing a snapshot never sent',
    to: 'leader',
    from: 'follower',
    message: (scene) => ({ type: 'InstallSnapshotResponse', term: scene.term, index: FAR, nextChunk: 0, installed: true, round: 0 }),
  },
  {
    name: 'an InstallSnapshotResponse asking for a chunk never sent',
    to: 'leader',
    from: 'follower',
    message: (scene) => ({ type: 'InstallSnapshotResponse', term: scene.term, index: FAR, nextChunk: 3, installed: false, round: 0 }),
  },
  {
    name: 'a granted RequestVoteResponse never asked for',
    to: 'follower',
    from: 'other',
    message: (scene) => ({ type: 'RequestVoteResponse', term: scene.term, granted: true, preVote: false }),
  },
];

let cluster: KvCluster;
let scene: Scene;
/** Nodes that missed a write made after a forgery, and which one: a later forgery to them is judged only once they apply writes again. */
const broken = new Map<KvProcess, string>();

beforeAll(async () => {
  // Heartbeats every 125 ms; an election timeout long enough that a loaded machine does not change the term.
  cluster = await KvCluster.start({ clusterId: CLUSTER_ID, flags: ['--election-timeout-ms', '1000'] });
  const leader = await cluster.leader();
  for (let i = 0; i < 5; i++) expect((await leader.request('PUT', `/kv/before-${i}`, `${i}`)).status).toBe(204);
  // Every node also records its own addresses (a proposal each): wait until all three are in and applied everywhere.
  const settled = await waitFor(async () => {
    const statuses = await Promise.all(cluster.nodes.map((node) => node.status()));
    const leading = statuses.find((status) => status?.role === 'leader');
    if (leading == null) return null;
    const caughtUp = statuses.every(
      (status) => status !== null && status.term === leading.term && lastIndexOf(status) === lastIndexOf(leading) && status.appliedIndex === lastIndexOf(leading),
    );
    const addresses = Object.keys((leading as KvStatus & { addresses: object }).addresses).length;
    return caughtUp && addresses === cluster.nodes.length ? leading : null;
  }, 'every node holding and applying the same log, with every address in it', 10_000, 25);
  const followers = cluster.nodes.filter((node) => node !== leader);
  // A follower that was a candidate in this term asked for votes in it; pick one that did not, when there is one.
  const follower = followers.find((node) => !node.log.includes(`candidate in term ${settled.term}\n`)) ?? followers[0]!;
  scene = { leader, follower, other: followers.find((node) => node !== follower)!, term: settled.term };
}, 30_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('forged messages to the key-value example', () => {
  for (const [i, forgery] of forgeries.entries()) {
    const verb = forgery.indistinguishable === undefined ? 'refuses' : 'answers as usual, changing nothing,';
    it(`${verb} ${forgery.name}, sent to the ${forgery.to} from the ${forgery.from}`, async () => {
      const target = scene[forgery.to];
      const from = scene[forgery.from];
      const earlier = broken.get(target);
      if (earlier !== undefined) {
        // It missed a write after an earlier forgery: judge this one only if it applies writes again.
        if (!(await writeApplied(`probe-${i}`, target))) throw new Error(`not judged: ${target.id} has applied no write since ${earlier}`);
        broken.delete(target);
      }
      // Each case writes a key, so the log grows between forgeries: forge against the target's log as it is now.
      const now = await target.status();
      if (now === null) throw new Error(`${target.id} does not answer /status`);
      const message = forgery.message({ ...scene, lastIndex: lastIndexOf(now), commitIndex: now.commitIndex });
      const since = target.log.length;
      const answer = await post(target, { clusterId: CLUSTER_ID, from: from.id, to: target.id, messages: [message] });

      // Refused by the wire (400 INVALID_MESSAGE) or delivered to the core (204), which must refuse it.
      expect.soft([204, 400], `answer ${answer.status} ${answer.body}`).toContain(answer.status);
      if (answer.status === 400) expect.soft(JSON.parse(answer.body), answer.body).toMatchObject({ error: { code: 'INVALID_MESSAGE' } });
      // Logged with its sender: the network's line names the refusal code, the core's the message type.
      const proof = answer.status === 400 ? 'INVALID_MESSAGE' : message.type;
      const logged = forgery.indistinguishable !== undefined || (await within(2000, () => refusalLogged(target, since, from.id, proof)));
      expect.soft(logged, `${target.id} logging the refusal of ${message.type} from ${from.id}; it logged:\n${target.log.slice(since) || '(nothing)'}`).toBe(true);

      // It changed nothing: the target stays in the protocol, in the same term, and the follower applies new writes.
      const key = `after-${i}`;
      const write = await scene.leader.request('PUT', `/kv/${key}`, key).catch((error: Error) => ({ status: 0, body: error.message }));
      expect.soft(write.status, `writing ${key} through the leader ${scene.leader.id}: ${write.body}`).toBe(204);
      if (write.status === 204) written.push(key);
      for (const node of new Set([target, scene.follower].filter((node) => !broken.has(node)))) {
        const applied = await appliedWithin(node, key);
        if (!applied) broken.set(node, forgery.name);
        expect.soft(applied, `${node.id} applying ${key}, written after the forgery; its status: ${JSON.stringify(await node.status())}`).toBe(true);
      }
      const status = await target.status();
      expect.soft(status?.role, JSON.stringify(status)).toBeOneOf(LIVE_ROLES);
      expect.soft(status?.term, `${target.id}'s term`).toBe(scene.term);
      expect.soft(target.alive, `${target.id}'s process running`).toBe(true);
    });
  }

  it('leaves every process running in the same term, with every write after the forgeries and none of their entries', async () => {
    expect(cluster.nodes.filter((node) => !node.alive).map((node) => node.id)).toEqual([]);
    expect((await scene.leader.request('PUT', '/kv/final', 'final')).status).toBe(204);
    for (const node of cluster.nodes) {
      const applied = await appliedWithin(node, 'final');
      expect.soft(applied, `${node.id} applying the last write; its status: ${JSON.stringify(await node.status())}`).toBe(true);
      const status = await node.status();
      expect.soft(status?.role, `${node.id}: ${JSON.stringify(status)}`).toBeOneOf(LIVE_ROLES);
      expect.soft(status?.term, `${node.id}'s term`).toBe(scene.term);
      // A node that applied the last write has applied whatever it holds before it: a forged entry would show, and
      // so would an acknowledged write that a forged entry took the place of.
      if (!applied) continue;
      const missing: string[] = [];
      for (const key of written) if ((await node.request('GET', `/kv/${key}?consistency=stale`)).body !== key) missing.push(key);
      expect.soft(missing, `acknowledged writes missing on ${node.id}`).toEqual([]);
      for (const key of forgedKeys) expect.soft((await node.request('GET', `/kv/${key}?consistency=stale`)).status, `${key} on ${node.id}`).toBe(404);
    }
  });
});

function lastIndexOf(status: KvStatus): number {
  return (status as KvStatus & { lastIndex: number }).lastIndex;
}

/** Whether `node` applies the write of `key` (its value is its name) within 2 s: a stale read there shows it. */
function appliedWithin(node: KvProcess, key: string): Promise<boolean> {
  return within(2000, async () => (await node.request('GET', `/kv/${key}?consistency=stale`)).body === key);
}

/** Write `key` through the leader and see `node` apply it. */
async function writeApplied(key: string, node: KvProcess): Promise<boolean> {
  const write = await scene.leader.request('PUT', `/kv/${key}`, key).catch(() => null);
  if (write?.status !== 204) return false;
  written.push(key);
  return appliedWithin(node, key);
}

/** Post one batch to `target`'s raft port, the way a peer does. */
async function post(target: KvProcess, batch: { clusterId: string; from: string; to: string; messages: Message[] }): Promise<{ status: number; body: string }> {
  const client = new RawClient(`http://${target.raft}`);
  try {
    return await client.request('POST', MESSAGES_PATH, JSON.stringify(batch), { 'content-type': 'application/json' }, 5000);
  } finally {
    client.close();
  }
}

/**
 * Whether `node` logged, after `since`, a refusal of a message from `from`: a line of its own naming the sender and
 * `proof` (the refusal code or the message type). The network logs a second refusal from one sender with one code
 * within a second as a count when that second is over ("refused 1 more request(s) from n1 with INVALID_MESSAGE").
 */
function refusalLogged(node: KvProcess, since: number, from: string, proof: string): boolean {
  const sender = new RegExp(`\\bfrom ${from}\\b`);
  return node.log
    .slice(since)
    .split('\n')
    .some((line) => line.startsWith(`[${node.id}] `) && /\brefused\b/.test(line) && sender.test(line) && line.includes(proof));
}

/** Whether `condition` holds within `timeoutMs` (polled). */
async function within(timeoutMs: number, condition: () => boolean | Promise<boolean>): Promise<boolean> {
  return waitFor(condition, '', timeoutMs, 20).then(
    () => true,
    () => false,
  );
}
