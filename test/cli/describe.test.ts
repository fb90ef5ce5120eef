/**
 * `xraft describe logs` and `describe metadata` on data directories written by the key-value example: a one-node
 * cluster that a second node joins, a few writes, both stopped (FileLogStore, the example's default); and a node on
 * LevelLogStore. The tables name every entry with its term, kind and data, and the directories are byte for byte the
 * same afterwards (file names and contents hashed before and after).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { startKvNode } from '../../examples/kv/node.js';
import { xraft } from '../examples/support.js';
import { freePorts, waitFor } from '../network/support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-describe-test-'));

/** A digest of every file name and content in `path` (LevelDB directories are flat). */
/** Names and contents of every file under `path` (the snapshots directory included). */
function hashDirectory(path: string): string {
  const hash = createHash('sha256');
  for (const entry of readdirSync(path, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const contents = entry.isDirectory() ? hashDirectory(join(path, entry.name)) : readFileSync(join(path, entry.name));
    hash.update(entry.name).update('\0').update(contents).update('\0');
  }
  return hash.digest('hex');
}

let raft1 = '';
let raft2 = '';
beforeAll(async () => {
  const [first, http1, second, http2] = (await freePorts(4)).map((port) => `127.0.0.1:${port}`) as [string, string, string, string];
  raft1 = first;
  raft2 = second;
  const n1 = await startKvNode({ id: 'n1', raft: raft1, http: http1, data: join(dir, 'n1'), electionTimeoutMs: 300 });
  await waitFor(() => n1.node.status().role === 'leader', 'n1 leading');
  const n2 = await startKvNode({ id: 'n2', raft: raft2, http: http2, join: raft1, data: join(dir, 'n2'), electionTimeoutMs: 300 });
  await waitFor(() => n1.node.members().voters.includes('n2'), 'n2 promoted');
  for (const [method, path, body] of [['PUT', '/kv/colour', 'blue'], ['POST', '/kv/colour/append', '-green'], ['DELETE', '/kv/colour', '']] as const) {
    const answer = await fetch(`http://${http2}${path}`, { method, body: body === '' ? undefined : body });
    expect(answer.status).toBeLessThan(300);
  }
  await waitFor(() => n2.node.status().appliedIndex === n1.node.status().commitIndex, 'n2 applying everything');
  await n2.stop();
  await n1.stop();
  const [raft3, http3] = (await freePorts(2)).map((port) => `127.0.0.1:${port}`) as [string, string];
  const n3 = await startKvNode({ id: 'n3', raft: raft3, http: http3, data: join(dir, 'n3'), electionTimeoutMs: 300, logStore: 'level' });
  await waitFor(() => n3.node.status().role === 'leader', 'n3 leading');
  expect((await fetch(`http://${http3}/kv/shape`, { method: 'PUT', body: 'round' })).status).toBe(204);
  await n3.stop();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('xraft describe', () => {
  it('prints the log of a stopped node as a table, without changing its directory', { timeout: 20_000 }, async () => {
    const before = hashDirectory(join(dir, 'n2'));
    const { code, stdout, stderr } = await xraft(['describe', 'logs', join(dir, 'n2')]);
    expect(code, stderr).toBe(0);
    expect(hashDirectory(join(dir, 'n2'))).toBe(before);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INDEX\s+TERM\s+KIND\s+DATA$/);
    expect(lines[1]).toMatch(/^-+\s+-+\s+-+\s+-+$/);
    const rows = lines.slice(2, -1).map((line) => line.split(/\s{2,}/));
    expect(rows.map((row) => row[0])).toEqual(rows.map((_, i) => String(i + 1)));
    expect(rows.every((row) => row[1] === '1')).toBe(true);
    expect(rows[0]).toEqual(['1', '1', 'noop']);
    // The configuration entries carry the members' raft addresses (n1's from its start, n2's from its join).
    const addresses = JSON.stringify({ n1: raft1, n2: raft2 });
    expect(rows.filter((row) => row[2] === 'config').map((row) => row[3])).toEqual([
      `{"voters":["n1"],"learners":["n2"],"addresses":${addresses}}`,
      `{"voters":["n1","n2"],"learners":[],"addresses":${addresses}}`,
    ]);
    expect(rows.slice(-3).map((row) => row.slice(2))).toEqual([
      ['command', '{"op":"put","key":"colour","value":"blue"}'],
      ['command', '{"op":"append","key":"colour","suffix":"-green"}'],
      ['command', '{"op":"delete","key":"colour"}'],
    ]);
    expect(lines.at(-1)).toBe(`(${rows.length} of ${rows.length} entries)`);

    const some = await xraft(['describe', 'logs', join(dir, 'n2'), '--from', '2', '--limit', '1', '--width', '20']);
    const row = some.stdout.split('\n')[2]!;
    expect(row).toMatch(/^2\s+1\s+config\s+\{"voters":.*…$/);
    expect(row.slice(row.indexOf('{'))).toHaveLength(20);
    expect(some.stdout.split('\n')[3]).toBe('(1 of 6 entries)');
  });

  it('prints identity, hard state, log bounds and configuration, without changing the directory', { timeout: 20_000 }, async () => {
    const before = hashDirectory(join(dir, 'n1'));
    const { code, stdout, stderr } = await xraft(['describe', 'metadata', join(dir, 'n1')]);
    expect(code, stderr).toBe(0);
    expect(hashDirectory(join(dir, 'n1'))).toBe(before);
    const fields = Object.fromEntries(stdout.trimEnd().split('\n').slice(2).map((line) => line.split(/\s{2,}/) as [string, string]));
    const logs = (await xraft(['describe', 'logs', join(dir, 'n1')])).stdout.trimEnd().split('\n');
    const last = logs.length - 3; // header, rule and summary lines around the rows
    const store = new FileLogStore({ location: join(dir, 'n1'), identity: { clusterId: 'xraft-kv', nodeId: 'n1' } });
    const { hardState } = await store.open();
    await store.close();
    expect(hardState.commit).toBeGreaterThanOrEqual(last - 1);
    expect(fields).toEqual({
      'cluster id': 'xraft-kv',
      'node id': 'n1',
      term: '1',
      'voted for': 'n1',
      'commit index': String(hardState.commit), // saved with the next write: it may trail the log
      'first index': '1',
      'last index': String(last),
      'last term': '1',
      entries: String(last),
      snapshot: '-',
      voters: 'n1,n2',
      learners: '-',
      'configuration from': expect.stringMatching(/^entry \d+$/),
      'bootstrap voters': '-',
    });
  });

  it('refuses what is not a data directory, with one line and status 1', async () => {
    const missing = await xraft(['describe', 'metadata', join(dir, 'nope')]);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: `xraft: ${join(dir, 'nope')} is not a directory\n` });
    const notLevel = await xraft(['describe', 'logs', dir]);
    expect(notLevel).toMatchObject({ code: 1, stderr: `xraft: ${dir} is not an xraft data directory (no log file, no LevelDB CURRENT file)\n` });
  });

  it("reads a LevelLogStore's directory too, without changing it", { timeout: 20_000 }, async () => {
    const before = hashDirectory(join(dir, 'n3'));
    const { code, stdout, stderr } = await xraft(['describe', 'logs', join(dir, 'n3')]);
    expect(code, stderr).toBe(0);
    expect(hashDirectory(join(dir, 'n3'))).toBe(before);
    expect(stdout).toMatch(/^2 +1 +command +\{"op":"put","key":"shape","value":"round"\}$/m);
  });
});
