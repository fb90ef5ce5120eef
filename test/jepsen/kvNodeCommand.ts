/** How a fault test starts one node of the KV example: this Node.js, with tsx as its TypeScript loader. */
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const tsx = import.meta.resolve('tsx');

export function kvNodeCommand(flags: readonly string[]): string[] {
  return [process.execPath, '--import', tsx, join(root, 'examples', 'kv', 'main.ts'), ...flags];
}
