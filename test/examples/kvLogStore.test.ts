/**
 * The KV example's log store: a new data directory gets the one asked for (the file store by default), and a
 * restarted node opens the one its directory already holds, whatever the default; asking for the other one there is
 * refused before anything is written, rather than starting a node that has forgotten its votes and entries.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startKvNode } from '../../examples/kv/node.js';
import { freePorts, waitFor } from '../network/support.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-kv-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A one-node KV cluster on `data`, its write of `key` (when given) applied, then stopped; what it read back first. */
async function runNode(data: string, logStore: 'file' | 'level' | undefined, key?: string): Promise<string | null> {
  const [raft, http] = (await freePorts(2)).map((port) => `127.0.0.1:${port}`) as [string, string];
  const kv = await startKvNode({ id: 'n1', raft, http, data, electionTimeoutMs: 300, ...(logStore === undefined ? {} : { logStore }) });
  try {
    await waitFor(() => kv.node.status().role === 'leader', 'n1 leading');
    const answer = await fetch(`http://${http}/kv/colour`);
    const found = answer.status === 200 ? await answer.text() : (await answer.body?.cancel(), null);
    if (key !== undefined) expect((await fetch(`http://${http}/kv/colour`, { method: 'PUT', body: key })).status).toBe(204);
    return found;
  } finally {
    await kv.stop();
  }
}

describe('KV log store', () => {
  it('a new directory gets the file store; a LevelDB directory stays LevelDB when the node restarts', { timeout: 30_000 }, async () => {
    const fileData = join(dir, 'file');
    await runNode(fileData, undefined, 'blue');
    expect(existsSync(join(fileData, 'log'))).toBe(true);
    expect(await runNode(fileData, undefined)).toBe('blue');

    const levelData = join(dir, 'level');
    await runNode(levelData, 'level', 'green');
    expect(existsSync(join(levelData, 'CURRENT'))).toBe(true);
    expect(await runNode(levelData, undefined)).toBe('green');
    expect(existsSync(join(levelData, 'log'))).toBe(false);
  });

  it('asking for the other store on a directory that holds one is refused, and the directory is left alone', { timeout: 30_000 }, async () => {
    const data = join(dir, 'kept');
    await runNode(data, 'level', 'red');
    await expect(runNode(data, 'file')).rejects.toThrow(`${data} holds a level log store, not a file one`);
    expect(existsSync(join(data, 'log'))).toBe(false);
    expect(await runNode(data, 'level')).toBe('red');
  });
});
