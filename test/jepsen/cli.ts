/**
 * The Jepsen-style runner from the command line (USAGE below): the KV example as real processes under faults, the
 * clients' history checked.
 */
import { parseCommandLine } from '../../src/cli/commandLine.js';
import { kvNodeCommand } from './kvNodeCommand.js';
import { runJepsen, type FaultKind } from './runJepsen.js';

const USAGE = `
npm run jepsen -- [--time 60] [--faults kill,pause,partition,restart] [--nodes 3|5] [--seed S] [--runs 1] [--keep]

Runs the KV example as real processes under faults and checks the clients' history. Prints one summary line per
run; on failure, where the history, logs and data directories were kept and the command that replays the schedule.
--keep keeps them after a run that passed too. Exits non-zero when any run fails.
`;

const { values } = parseCommandLine(USAGE, {
  options: {
    time: { type: 'string', default: '60' },
    faults: { type: 'string', default: 'kill,pause,partition,restart' },
    nodes: { type: 'string', default: '3' },
    seed: { type: 'string' },
    runs: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});

const kinds: readonly FaultKind[] = ['kill', 'pause', 'partition', 'restart'];
const faults = values.faults.split(',').filter((fault) => fault !== '');
for (const fault of faults) {
  if (!kinds.includes(fault as FaultKind)) {
    console.error(`unknown fault ${fault}; choose from ${kinds.join(', ')}`);
    process.exit(2);
  }
}
const nodes = Number(values.nodes);
if (nodes !== 3 && nodes !== 5) {
  console.error('--nodes must be 3 or 5');
  process.exit(2);
}
const runs = Number(values.runs);
let failed = 0;
for (let run = 0; run < runs; run++) {
  const seed = values.seed !== undefined ? Number(values.seed) + run : Math.floor(Math.random() * 2 ** 31);
  const result = await runJepsen({
    timeSeconds: Number(values.time),
    faults: faults as FaultKind[],
    nodes,
    seed,
    nodeCommand: kvNodeCommand,
    keep: values.keep,
    log: (line) => console.log(`  ${line}`),
  });
  console.log(
    `${result.ok ? 'PASS' : 'FAIL'} seed ${seed}: ${result.operations} operations, ${result.acknowledged} acknowledged ` +
      `(${result.acknowledgedWrites} writes), ${result.unknown} unknown, ${result.faults} faults, checker ${Math.round(result.checkerMs)} ms, ` +
      `snapshot indexes ${result.snapshotIndexes.join('/')}, ${result.snapshotsInstalled} installed, partitions: ${result.partitions}`,
  );
  if (!result.ok) {
    failed++;
    for (const problem of result.problems.slice(0, 20)) console.log(`  problem: ${problem}`);
    console.log(`  kept: ${result.directory} (history.json, n*/node.log, n*/data)`);
    console.log(`  replay: ${result.replay}`);
  }
}
console.log(`${runs - failed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
