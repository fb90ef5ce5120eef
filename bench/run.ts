/**
 * `npm run bench [-- --only cluster,sim] [--seconds S]`: run the benchmarks and print a Markdown table of figures to
 * paste into BENCHMARKS.md, with the machine it ran on.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { benchCluster } from './cluster.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    seconds: { type: 'string', default: '3' },
  },
});
const only = values.only?.split(',') ?? null;
const seconds = Number(values.seconds);
const wanted = (name: string): boolean => only === null || only.includes(name);

console.log(`# xraft benchmarks, ${new Date().toISOString().slice(0, 10)}`);
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`);
console.log();

if (wanted('cluster')) {
  console.log('## In-process 3-node cluster, memory actors, 100-byte commands');
  console.log('| concurrent proposals | committed/s | p50 latency | p99 latency |');
  console.log('|---:|---:|---:|---:|');
  for (const concurrency of [1, 64, 1024]) {
    const result = await benchCluster(concurrency, seconds);
    console.log(`| ${concurrency} | ${Math.round(result.perSecond).toLocaleString('en-US')} | ${result.p50Ms.toFixed(2)} ms | ${result.p99Ms.toFixed(2)} ms |`);
  }
  console.log();
}
