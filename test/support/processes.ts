/**
 * Helpers for tests that run nodes as real processes.
 */
import type { ChildProcess } from 'node:child_process';
import type { NodeStatus } from '../../src/index.js';

/** What a node reports on its status endpoint (the KV example and xraft-node add fields of their own). */
/** What the status endpoints answer (`snapshotIndex` when the endpoint passes the node's status on whole). */
export type StatusView = Pick<NodeStatus, 'id' | 'role' | 'term' | 'leader' | 'commitIndex' | 'appliedIndex'> & Partial<Pick<NodeStatus, 'snapshotIndex'>>;

/**
 * Resolve once `child` prints its `{"event":"listening"}` line; reject if it exits first, with what it wrote on
 * stderr (`log()`) in the message.
 */
export function listening(child: ChildProcess, id: string, log: () => string): Promise<void> {
  let stdout = '';
  return new Promise<void>((started, failed) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (stdout.includes('"event":"listening"')) started();
    });
    child.once('exit', (code) => failed(new Error(`${id} exited with ${code} before listening:\n${log()}`)));
  });
}
