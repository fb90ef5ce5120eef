/**
 * `npm run kv -- FLAGS`: run one node of the replicated key-value store (see README "A key-value store").
 *
 *   npm run kv -- --id n1 --raft 127.0.0.1:7001 --http 127.0.0.1:8001 --data data/n1
 *   npm run kv -- --id n2 --raft 127.0.0.1:7002 --http 127.0.0.1:8002 --data data/n2 --join 127.0.0.1:7001
 *
 * With `--groups N` (and a static `--peers` list) the node hosts N Raft groups and hashes keys to them
 * (examples/kv/shardedNode.ts): the same HTTP API, and `/status` counts the groups with a leader and those led here.
 *
 * Prints `{"event":"listening",...}` once serving; SIGINT or SIGTERM stops it gracefully.
 */
import { Command, InvalidArgumentError } from 'commander';
import { isAddress, parseAddresses } from '../../src/process/index.js';
import { startKvDashboard } from './dashboard.js';
import { startKvNode } from './node.js';
import { startShardedKvNode } from './shardedNode.js';

/** `host:port` (`[v6]:port`), the port 0 to 65535; commander reports anything else as an invalid argument. */
function address(text: string): string {
  if (!isAddress(text)) throw new InvalidArgumentError('expected host:port (port 0 to 65535)');
  return text;
}

function logStoreKind(text: string): 'file' | 'level' {
  if (text !== 'file' && text !== 'level') throw new InvalidArgumentError('expected file or level');
  return text;
}

/** `id=host:port,...`, each id once. */
function peerList(text: string): Record<string, string> {
  try {
    return parseAddresses(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

const command = new Command('kv')
  .requiredOption('--id <id>', 'this node id')
  .requiredOption('--raft <host:port>', 'address for peers (and joining nodes)', address)
  .requiredOption('--http <host:port>', 'address of the client API', address)
  .option('--peers <list>', 'static cluster: id=host:port,... (raft addresses, this node included)', peerList)
  .option('--join <host:port>', 'raft address of any member to join through', address)
  .option('--data <dir>', 'data directory (default data/<id>)')
  .option('--cluster <id>', 'cluster id, the same on every node', 'xraft-kv')
  .option('--election-timeout-ms <ms>', 'base election timeout', Number)
  .option('--failure-detector <phi|fixed>', 'how a follower suspects a silent leader (default phi: learns its rhythm)')
  .option('--snapshot-every <entries>', 'entries between snapshots (default 32768)', Number)
  .option('--log-store <file|level>', 'the log store of a new data directory: one file synced on the event loop (default), or LevelDB', logStoreKind)
  .option('--groups <n>', 'host N Raft groups and hash keys to them (needs --peers)', Number)
  .option('--dashboard-feed', 'serve inspection events and status at GET /dashboard/feed for a dashboard')
  .option('--dashboard <host:port>', 'serve a dashboard of the cluster here (loopback), following every node that has a feed', address)
  .parse();
const flags = command.opts<{ id: string; raft: string; http: string; peers?: Record<string, string>; join?: string; data?: string; cluster: string; electionTimeoutMs?: number; failureDetector?: string; logStore?: 'file' | 'level'; snapshotEvery?: number; groups?: number; dashboardFeed?: boolean; dashboard?: string }>();
const { peers } = flags;
if (peers !== undefined && !(flags.id in peers)) command.error(`error: --peers must name this node (${flags.id}) too`);
const log = (line: string): void => void process.stderr.write(`[${flags.id}] ${line}\n`);
let signal: NodeJS.Signals | null = null;
try {
  const { stop, listening } = flags.groups === undefined ? await startSingle() : await startSharded(flags.groups);
  process.stdout.write(`${JSON.stringify({ event: 'listening', id: flags.id, raft: flags.raft, ...listening })}\n`);
  let stopping: Promise<void> | null = null; // Ctrl-C under `npm start` signals twice: the terminal and the launcher
  const shutdown = (received: NodeJS.Signals): void => {
    signal ??= received;
    stopping ??= stop().then(() => process.exit(0), (error: Error) => (log(`stop failed: ${error.message}`), process.exit(1)));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (error) {
  log(`cannot start: ${(error as Error).message}`);
  process.exit(2);
}

/** One group: the node of examples/kv/node.ts, which may join a running cluster. */
async function startSingle() {
  const kv = await startKvNode({ ...flags, failureDetector: detectorOf(flags.failureDetector), peers, clusterId: flags.cluster, data: flags.data ?? `data/${flags.id}`, log, dashboardFeed: flags.dashboardFeed === true || flags.dashboard !== undefined });
  if (flags.dashboard !== undefined) log(`dashboard ${(await startKvDashboard(kv, flags.dashboard)).url}`);
  kv.node.on('roleChanged', ({ role, term }) => log(`${role} in term ${term}`));
  kv.node.on('membershipChanged', ({ voters, learners }) => log(`voters ${voters.join(',')} learners ${learners.join(',') || '-'}`));
  kv.node.on('snapshot', ({ how, index }) => how !== 'taken' && log(`snapshot ${how} at index ${index}`));
  // Each refusal is logged with its sender: by the network (through `log`) a request that does not decode or breaks a
  // message check, by the core a message that contradicts this node's state. Neither changes anything.
  kv.node.on('refused', ({ from, messageType, reason }) => log(`refused ${messageType} from ${from}: ${reason}`));
  kv.node.on('stopped', ({ error }) => log(`stopped: ${error ?? `on ${signal ?? 'request'}`}`)); // and /status says so
  return { stop: kv.stop, listening: { http: kv.http } };
}

/** `--groups N`: a node of the sharded store (static membership: `--peers` names every node). */
async function startSharded(groups: number) {
  if (peers === undefined) throw new Error('--groups needs --peers (a sharded cluster is static)');
  const kv = await startShardedKvNode({ id: flags.id, raft: flags.raft, http: flags.http, peers, groups, data: flags.data ?? `data/${flags.id}`, clusterId: flags.cluster, electionTimeoutMs: flags.electionTimeoutMs, log });
  return { stop: kv.stop, listening: { http: kv.http, groups } };
}

function detectorOf(name: string | undefined): 'phi' | 'fixed' | undefined {
  if (name === undefined || name === 'phi' || name === 'fixed') return name;
  throw new Error(`--failure-detector is phi or fixed, not ${JSON.stringify(name)}`);
}
