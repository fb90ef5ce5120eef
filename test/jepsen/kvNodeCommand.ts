/**
 * How a fault test starts one node of the KV example: this Node.js, with tsx as its TypeScript loader, and a snapshot
 * every 200 entries, so that a node back from a kill, a pause or a partition often has to catch up by InstallSnapshot.
 */
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');

export function kvNodeCommand(flags: readonly string[]): string[] {
  return [process.execPath, '--import', tsx, join(root, 'examples', 'kv', 'main.ts'), '--snapshot-every', '200', ...flags];
}
