/**
 * Prometheus metrics of one node, in the text format, with prom-client: what a process serves at `/metrics`.
 *
 * Kept out of the core and off the hot path: the node's scalars (role, term, indexes, pending operations) are read
 * when Prometheus scrapes (`collect`), events are counted from the node's own emitted events, and the log store's
 * batches arrive through its optional observer (one call per durable batch, never per entry). No label takes a
 * per-entry or per-request value: every label set is fixed and small.
 *
 * @example
 * const metrics = createNodeMetrics();
 * const logStore = new LevelLogStore({ location, identity, observer: metrics.logStoreObserver });
 * const node = createRaftNode({ ..., logStore });
 * metrics.observe(node);
 * // GET /metrics: response.end(await metrics.render()) with content type metrics.contentType
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LevelBatchWritten, LevelLogStoreObserver } from '../actors/log-store/LevelLogStore.js';
import type { NodeStatus } from './createRaftNode.js';
import type { NodeEmitted } from './node/machine.js';

/** What the metrics need of a node: its status, its pending operations and its events. */
export interface ObservedNode {
  status(): NodeStatus;
  on(type: 'roleChanged' | 'leaderChanged' | 'snapshot', listener: (event: NodeEmitted) => void): unknown;
  readonly actor?: { getSnapshot(): { context: { runtime: { readonly waiters: { readonly size: number } } } } };
}

export interface NodeMetrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** Give to `LevelLogStore`'s `observer` option: append batch sizes, fsync latency, snapshot bytes. */
  readonly logStoreObserver: LevelLogStoreObserver;
  /** Start reading `node` (once): its scalars on every scrape, its role, leader and snapshot events as they come. */
  observe(node: ObservedNode): void;
  /** Count and time a proposal: resolves or rejects as `operation` does. */
  timeProposal<T>(operation: Promise<T>): Promise<T>;
  /** The text format Prometheus scrapes. */
  render(): Promise<string>;
}

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader', 'removed', 'recovering', 'stopped'] as const;

export interface NodeMetricsOptions {
  readonly prefix?: string;
  readonly labels?: Record<string, string>;
  /**
   * Also the process's own (prom-client's default metrics, under their usual names): resident memory, V8 heap by
   * space, external memory, GC pauses by kind (`nodejs_gc_duration_seconds`), event loop lag. For a node that has
   * its process to itself (the KV example); default false, since they describe the process, not the node.
   */
  readonly process?: boolean;
}

export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const prefix = options.prefix ?? 'xraft_';
  const registry = new Registry();
  if (options.labels !== undefined) registry.setDefaultLabels(options.labels);
  if (options.process === true) collectDefaultMetrics({ register: registry });
  let node: ObservedNode | null = null;
  const status = (): NodeStatus | null => node?.status() ?? null;
  const scalar = (name: string, help: string, read: (status: NodeStatus) => number): void => {
    new Gauge({
      name: `${prefix}${name}`,
      help,
      registers: [registry],
      collect() {
        const now = status();
        if (now !== null) this.set(read(now));
      },
    });
  };
  new Gauge({
    name: `${prefix}role`,
    help: 'The node role: 1 for the role it has, 0 for the others',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      const role = status()?.role;
      for (const each of ROLES) this.set({ role: each }, each === role ? 1 : 0);
    },
  });
  scalar('term', 'Current term', (s) => s.term);
  scalar('commit_index', 'Highest log index known to be committed', (s) => s.commitIndex);
  scalar('applied_index', 'Highest log index applied to the state machine', (s) => s.appliedIndex);
  scalar('last_index', 'Last index of the local log', (s) => s.lastIndex);
  scalar('snapshot_index', 'Index of the latest stored snapshot', (s) => s.snapshotIndex);
  scalar('is_leader', '1 when this node leads', (s) => (s.role === 'leader' ? 1 : 0));
  new Gauge({
    name: `${prefix}pending_operations`,
    help: 'Proposals and reads waiting for an answer',
    registers: [registry],
    collect() {
      const pending = node?.actor?.getSnapshot().context.runtime.waiters.size;
      if (pending !== undefined) this.set(pending);
    },
  });
  const proposals = new Counter({ name: `${prefix}proposals_total`, help: 'Proposals by outcome', labelNames: ['outcome'], registers: [registry] });
  const proposalSeconds = new Histogram({
    name: `${prefix}proposal_duration_seconds`,
    help: 'Time from proposal to its result (committed and applied here)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const appendBatch = new Histogram({
    name: `${prefix}append_batch_entries`,
    help: 'Entries appended per durable log store batch (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [registry],
  });
  const fsyncSeconds = new Histogram({
    name: `${prefix}fsync_duration_seconds`,
    help: 'Duration of a synced log store batch write',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const elections = new Counter({ name: `${prefix}elections_total`, help: 'Elections this node started (became candidate)', registers: [registry] });
  const leaderChanges = new Counter({ name: `${prefix}leader_changes_total`, help: 'Times this node saw a new leader', registers: [registry] });
  const snapshots = new Counter({ name: `${prefix}snapshots_total`, help: 'Snapshots that became current, by origin', labelNames: ['how'], registers: [registry] });
  const snapshotBytes = new Histogram({
    name: `${prefix}snapshot_bytes`,
    help: 'Size of a snapshot stored by this node',
    buckets: [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9],
    registers: [registry],
  });
  const snapshotSeconds = new Histogram({
    name: `${prefix}snapshot_duration_seconds`,
    help: 'Time from the first stored chunk of a snapshot to the snapshot becoming current',
    buckets: [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60],
    registers: [registry],
  });
  for (const how of ['taken', 'installed', 'restored']) snapshots.inc({ how }, 0);
  // Once, not per proposal: a label set is hashed on every call that names it.
  const proposalsOk = proposals.labels({ outcome: 'ok' });
  const proposalsFailed = proposals.labels({ outcome: 'error' });
  proposalsOk.inc(0);
  proposalsFailed.inc(0);

  // A snapshot is stored chunk by chunk; it is measured from its first chunk until the node reports it current.
  let snapshotStarted: number | null = null;
  let snapshotStoredBytes = 0;
  const logStoreObserver: LevelLogStoreObserver = {
    batchWritten(batch: LevelBatchWritten) {
      if (batch.entries > 0) appendBatch.observe(batch.entries);
      if (batch.synced) fsyncSeconds.observe(batch.durationMs / 1000);
      if (batch.snapshotChunks > 0) {
        snapshotStarted ??= performance.now() - batch.durationMs;
        snapshotStoredBytes += batch.snapshotBytes;
      }
    },
  };

  let lastLeader: string | null = null;
  return {
    registry,
    contentType: registry.contentType,
    logStoreObserver,
    observe(observed) {
      if (node !== null) throw new Error('createNodeMetrics: observe() takes one node');
      node = observed;
      lastLeader = observed.status().leader;
      observed.on('roleChanged', (event) => {
        if (event.type === 'roleChanged' && event.role === 'candidate') elections.inc();
      });
      observed.on('leaderChanged', (event) => {
        if (event.type !== 'leaderChanged' || event.leader === null || event.leader === lastLeader) return;
        lastLeader = event.leader;
        leaderChanges.inc();
      });
      observed.on('snapshot', (event) => {
        if (event.type !== 'snapshot') return;
        snapshots.inc({ how: event.how });
        if (snapshotStarted !== null && event.how !== 'restored') {
          snapshotSeconds.observe((performance.now() - snapshotStarted) / 1000);
          snapshotBytes.observe(snapshotStoredBytes);
        }
        snapshotStarted = null;
        snapshotStoredBytes = 0;
      });
    },
    timeProposal<T>(operation: Promise<T>): Promise<T> {
      const started = performance.now();
      return operation.then(
        (result) => (proposalSeconds.observe((performance.now() - started) / 1000), proposalsOk.inc(), result),
        (error: unknown) => {
          proposalSeconds.observe((performance.now() - started) / 1000);
          proposalsFailed.inc();
          throw error;
        },
      );
    },
    render: () => registry.metrics(),
  };
}
