/**
 * Run the simulator from the command line: `npm run sim -- --help` prints the options (USAGE below).
 */
import { parseCommandLine } from '../../src/cli/commandLine.js';
import { membershipSchedules, type MembershipScheduleName } from './membershipSchedule.js';
import { SimRecorder } from './recorder.js';
import { sabotages, type Sabotage } from './simOptions.js';
import { defaultClients, replayCommandOf, runSeed as runSingleGroupSeed, type SimOptions, type SimResult } from './simulation.js';
import { runMultiGroupSeed } from './multiGroupSimulation.js';

const USAGE = `
Run the simulator from the command line.

  npm run sim -- --seeds 500 [--start 1] [--nodes 3|5] [--steps 2000]   many seeds; one line per failure
  npm run sim -- --seed 42 [--nodes 3] [--steps 2000] [--trace]        replay one seed (with its event log)

Workload options (both modes):
  --clients N       concurrent key-value clients whose history must be linearizable (default 6; 0 turns them off)
  --membership S    carry out a membership schedule under the faults: grow-shrink | replace-all | remove-leader
  --no-figure8      turn off the targeted Figure 8 leader crashes
  --no-snapshots    keep every log whole (by default nodes snapshot and compact every 10 to 30 entries, send
                    InstallSnapshot in small chunks, and crashes are aimed at snapshot transfers)
  --lease-reads     half of the clients' reads ask for a lease read; clock skew stays within the lease's drift bound
  --transfers       leadership transfers under the faults (targeted, untargeted, target crashed mid-way, TimeoutNow
                    delivered late, lease reads right after); every transfer must settle
  --removals        remove a voter (the leader, or a follower) that keeps running; it must stop campaigning
  --forge           a misbehaving peer injects messages that pass the schema but break an invariant
  --figure8-script  the scripted Figure 8 schedule (partitions and crashes that build the figure's logs)
  --sabotage S      break something on purpose: stale-reads | no-sessions | old-term-commit (the Figure 8 rule)
  --record FILE     (with --seed) write a recording for the dashboard's replay: every step's time, event, node
                    views and messages in flight; open it with \`npm run dashboard -- --replay FILE\`
  --stacks          keep errors' stack traces (off by default for speed; the trace hash does not change)
  --detector D      the election timer's failure detector: fixed (the core's timeout, default) | phi (φ accrual)
  --jitter          a calm run: no crashes, partitions, loss or clock skew, only jittered delays and slow disks;
                    prints the elections begun after the first leader (each one spurious)
  --groups N        multi-Raft: N groups on the same hosts, one host-level network, faults per host pair, idle
                    groups quiescing; every group keeps every check (clients on one group in five)
  --no-quiesce      (with --groups) keep every group's timers running

Exits non-zero when any seed fails. The closing line of a batch is always \`N passed, N failed\`.
`;

const { values } = parseCommandLine(USAGE, {
  options: {
    seeds: { type: 'string' },
    start: { type: 'string', default: '1' },
    seed: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    steps: { type: 'string', default: '2000' },
    trace: { type: 'boolean', default: false },
    clients: { type: 'string', default: String(defaultClients) },
    membership: { type: 'string', default: 'none' },
    'no-figure8': { type: 'boolean', default: false },
    'no-snapshots': { type: 'boolean', default: false },
    'lease-reads': { type: 'boolean', default: false },
    transfers: { type: 'boolean', default: false },
    removals: { type: 'boolean', default: false },
    forge: { type: 'boolean', default: false },
    'figure8-script': { type: 'boolean', default: false },
    sabotage: { type: 'string' },
    stacks: { type: 'boolean', default: false },
    record: { type: 'string' },
    detector: { type: 'string', default: 'fixed' },
    jitter: { type: 'boolean', default: false },
    groups: { type: 'string' },
    'no-quiesce': { type: 'boolean', default: false },
  },
});

function integer(name: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got ${String(text)}`);
    process.exit(2);
  }
  return value;
}

const nodes = integer('nodes', values.nodes);
if (nodes !== 3 && nodes !== 5) {
  console.error('--nodes must be 3 or 5');
  process.exit(2);
}
const steps = integer('steps', values.steps);
const clients = integer('clients', values.clients);
const membership = values.membership as MembershipScheduleName | 'none';
if (membership !== 'none' && !membershipSchedules.includes(membership)) {
  console.error(`--membership must be one of ${membershipSchedules.join(', ')}`);
  process.exit(2);
}
const sabotage = values.sabotage as Sabotage | undefined;
if (sabotage !== undefined && !sabotages.includes(sabotage)) {
  console.error(`--sabotage must be one of ${sabotages.join(', ')}`);
  process.exit(2);
}
if (values.detector !== 'fixed' && values.detector !== 'phi') {
  console.error('--detector must be fixed or phi');
  process.exit(2);
}
// Only the options given: the replay command of a failure names exactly these.
const options: SimOptions = {
  nodes,
  steps,
  clients,
  membership,
  ...(values['no-figure8'] ? { figure8Faults: false } : {}),
  ...(values['no-snapshots'] ? { snapshots: false } : {}),
  ...(values['lease-reads'] ? { leaseReads: true } : {}),
  ...(values.transfers ? { transfers: true } : {}),
  ...(values.removals ? { removals: true } : {}),
  ...(values.forge ? { forge: true } : {}),
  ...(values['figure8-script'] ? { figure8Script: true } : {}),
  ...(sabotage === undefined ? {} : { sabotage }),
  ...(values.stacks ? { stacks: true } : {}),
  ...(values.detector === 'phi' ? { detector: 'phi' as const } : {}),
  ...(values.jitter ? { jitter: true } : {}),
  ...(values.groups === undefined ? {} : { groups: integer('groups', values.groups) }),
  ...(values['no-quiesce'] ? { quiesce: false } : {}),
};
const runSeed = (seed: number, run: SimOptions): Promise<SimResult> => (run.groups === undefined ? runSingleGroupSeed(seed, run) : runMultiGroupSeed(seed, run));

function describeFailure(result: SimResult): string {
  const failure = result.failure!;
  const stacks = failure.invariant === 'Exception' && !result.flags.includes('--stacks') ? ' --stacks' : '';
  return `seed ${result.seed} FAILED at step ${failure.step} (t=${failure.timeMs.toFixed(0)}ms) ${failure.message.split('\n')[0]}\n  replay: ${replayCommandOf(result)}${stacks}`;
}

if (values.seed !== undefined) {
  const seed = integer('seed', values.seed);
  const recorder = values.record === undefined ? null : new SimRecorder(seed, options);
  const result = await runSeed(seed, { ...options, trace: values.trace || recorder !== null, ...(recorder === null ? {} : { onStep: recorder.onStep }) });
  if (result.trace !== undefined && values.trace) for (const line of result.trace) console.log(line);
  if (recorder !== null) {
    recorder.write(values.record!);
    console.log(`recorded ${recorder.recording.steps.length} steps to ${values.record} (replay: npm run dashboard -- --replay ${values.record})`);
  }
  console.log(`seed ${seed} nodes ${nodes} steps ${steps}: ${result.ok ? 'ok' : 'FAILED'}`);
  console.log(`trace hash ${result.traceHash}`);
  console.log(`stats ${JSON.stringify(result.stats)}`);
  if ('multiGroup' in result) console.log(`multi-group ${JSON.stringify(result.multiGroup)}`);
  if (!result.ok) {
    console.log(describeFailure(result));
    if (result.failure!.invariant === 'Exception') console.log(result.failure!.message);
  }
  console.log(`replay: ${replayCommandOf(result)}`);
  console.log(`${result.ok ? 1 : 0} passed, ${result.ok ? 0 : 1} failed`);
  process.exit(result.ok ? 0 : 1);
}

const count = integer('seeds', values.seeds ?? '100');
const start = integer('start', values.start);
let passed = 0;
let failed = 0;
let totalSteps = 0;
let clientOperations = 0;
let checkMs = 0;
let installs = 0;
let installCrashes = 0;
let leaseReads = 0;
let spurious = 0;
let seedsWithSpurious = 0;
const failuresByInvariant = new Map<string, number>();
const began = performance.now();
for (let seed = start; seed < start + count; seed++) {
  const result = await runSeed(seed, options);
  totalSteps += result.stats.steps;
  installs += result.stats.snapshotInstalls;
  installCrashes += result.stats.installCrashesLeader + result.stats.installCrashesFollower;
  leaseReads += result.stats.leaseReads;
  spurious += result.stats.termsAfterFirstLeader;
  if (result.stats.termsAfterFirstLeader > 0) seedsWithSpurious++;
  clientOperations += result.stats.clientOperations;
  checkMs += result.linearizabilityCheckMs;
  if (result.ok) passed++;
  else {
    failed++;
    failuresByInvariant.set(result.failure!.invariant, (failuresByInvariant.get(result.failure!.invariant) ?? 0) + 1);
    console.log(describeFailure(result));
  }
}
const seconds = (performance.now() - began) / 1000;
console.log(
  `${count} seeds x ${steps} steps on ${nodes} nodes in ${seconds.toFixed(1)}s: ${(count / seconds).toFixed(0)} seeds/s, ${(totalSteps / seconds / 1000).toFixed(0)}k steps/s`,
);
if (clients > 0) {
  console.log(`${clients} clients: ${(clientOperations / count).toFixed(0)} operations per seed, linearizability checked in ${(checkMs / count).toFixed(1)} ms per seed`);
}
if (options.snapshots !== false) {
  console.log(`snapshots: ${(installs / count).toFixed(1)} installs and ${(installCrashes / count).toFixed(1)} crashes during a transfer per seed`);
}
if (options.leaseReads === true) console.log(`lease reads: ${(leaseReads / count).toFixed(1)} answered from a lease per seed`);
if (options.jitter === true) console.log(`spurious elections (terms begun after the first leader): ${spurious} in ${seedsWithSpurious} of ${count} seeds (${values.detector} detector)`);
if (failed > 0) console.log(`failures by invariant: ${[...failuresByInvariant].map(([name, n]) => `${name} ${n}`).join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
