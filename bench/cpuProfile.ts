/**
 * `npx tsx bench/cpuProfile.ts FILE.cpuprofile [N]`: the N (default 15) functions with the most self time in a V8 CPU
 * profile (`node --cpu-prof`, or `npm run bench -- kv-load --cpu-prof DIR`), with their share of the busy time (the
 * samples that are not `(idle)`).
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { repoRoot } from './processes.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export function topSelfTime(profile: Profile, count: number): Array<{ name: string; where: string; ms: number; share: number }> {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, { name: string; where: string; micros: number }>();
  let total = 0;
  profile.samples.forEach((nodeId, at) => {
    // A sample's time is the gap to the next sample.
    const micros = profile.timeDeltas[at + 1] ?? 0;
    const frame = byNode.get(nodeId)!.callFrame;
    const where = frame.url === '' ? '' : `${frame.url.startsWith('file://') ? relative(repoRoot, new URL(frame.url).pathname) : frame.url}:${frame.lineNumber + 1}`;
    const name = frame.functionName || '(anonymous)';
    if (name === '(idle)') return;
    const key = `${name} ${where}`;
    const entry = selfMicros.get(key) ?? { name, where, micros: 0 };
    entry.micros += micros;
    selfMicros.set(key, entry);
    total += micros;
  });
  return [...selfMicros.values()]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, count)
    .map(({ name, where, micros }) => ({ name, where, ms: micros / 1000, share: micros / total }));
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const [file, count = '15'] = process.argv.slice(2);
  if (file === undefined) throw new Error('usage: npx tsx bench/cpuProfile.ts FILE.cpuprofile [N]');
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const top = topSelfTime(profile, Number(count));
  const busyMs = top[0] === undefined ? 0 : top[0].ms / top[0].share;
  console.log(`${file}: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s profiled, ${(busyMs / 1000).toFixed(1)} s busy`);
  console.log('| self time | share | function | where |');
  console.log('|---:|---:|---|---|');
  for (const { name, where, ms, share } of top) {
    console.log(`| ${ms.toFixed(0)} ms | ${(100 * share).toFixed(1)} % | ${name} | ${where} |`);
  }
}
