/**
 * The simulated application for client workloads: a key-value store built on xraft's real `StateMachine` base class,
 * so that the client-session deduplication under test is the one production runs.
 *
 * It is driven synchronously, the way the node's statechart drives it asynchronously: `receive({ type: 'Apply' })`
 * with the core's `apply` effect, results back through the callback given to `attach`.
 *
 * Beside the store it checks the promise sessions make: a (client, seq) pair is applied at most once per incarnation
 * of the state machine, however many attempts of it reach the log. The requests applied so far are part of the state
 * (they travel in snapshots), so a request applied before a snapshot and again after a restore from it is caught too.
 *
 * Snapshots go through the real `StateMachine` messages (TakeSnapshot/NextSnapshotChunk, BeginRestore/
 * RestoreSnapshotChunk), so that the client sessions travel in chunk 0 exactly as in production. Those run on
 * promises: `takeSnapshot` and `restoreFrom` start a job, the simulator drains the microtask queue (`busy` turns false),
 * then collects the outcome with `finishJob`. No Apply may arrive while a job runs.
 */
import { StateMachine, type ApplyContext, type ProposalResult } from '../../actors/state-machine/StateMachine.js';
import type { Entry, SnapshotMeta } from '../../src/core/types.js';
import { chainHash } from './logMirror.js';
import { SafetyViolation } from './safetyViolation.js';

/**
 * A client command. `attempt` names the proposal that carried it: every retry of one (client, seq) is a different
 * proposal with the same session tag, so that the simulator's per-proposal bookkeeping (acknowledged writes, no
 * proposal committed twice) stays exact while the state machine deduplicates by the tag alone.
 */
export type KvCommand =
  | { readonly op: 'put' | 'append'; readonly key: string; readonly value: string; readonly client: string; readonly seq: number; readonly attempt: string }
  /** Anything that is not a client command (the simulator's plain proposals and liveness probes). */
  | { readonly op: 'opaque' };

export function encodeKvCommand(command: KvCommand): string {
  return JSON.stringify(command);
}

export function decodeKvCommand(data: string): KvCommand {
  return data.startsWith('{') ? (JSON.parse(data) as KvCommand) : { op: 'opaque' };
}

/** The outcome of a snapshot job, collected once `busy` is false. */
export type SnapshotJobOutcome =
  | { readonly kind: 'taken'; readonly meta: SnapshotMeta; readonly chunks: readonly Uint8Array[] }
  | { readonly kind: 'restored'; readonly meta: SnapshotMeta }
  | { readonly kind: 'failed'; readonly meta: SnapshotMeta; readonly message: string };

interface SnapshotJob {
  readonly kind: 'take' | 'restore';
  readonly meta: SnapshotMeta;
  /** Taking: chunks produced so far. Restoring: the chunks to feed. */
  readonly chunks: Uint8Array[];
  outcome: SnapshotJobOutcome | null;
}

export class KvStateMachine extends StateMachine<KvCommand, string | null> {
  private readonly store = new Map<string, string>();
  /** `client:seq` of every session command applied by this incarnation. */
  private readonly appliedRequests = new Set<string>();
  private appliedThrough = 0;
  private job: SnapshotJob | null = null;
  /**
   * A broken promise found while applying. `StateMachine` turns anything `apply` throws into that command's
   * rejection, so the violation is kept here and thrown by the simulator once the batch is applied.
   */
  violation: SafetyViolation | null = null;

  constructor(
    readonly nodeId: string,
    onResults: (results: readonly ProposalResult<string | null, unknown>[]) => void,
  ) {
    super();
    this.useDecoder(decodeKvCommand);
    this.attach((reply) => {
      switch (reply.type) {
        case 'Applied':
          this.appliedThrough = reply.index;
          if (reply.results.length > 0) onResults(reply.results);
          return;
        case 'SnapshotChunkTaken': {
          const job = this.job!;
          job.chunks.push(reply.data);
          // The simulated disk stores chunks later, in its own time; the state machine may go on at once.
          if (reply.done) job.outcome = { kind: 'taken', meta: reply.meta, chunks: job.chunks };
          else this.receive({ type: 'NextSnapshotChunk', meta: reply.meta });
          return;
        }
        case 'SnapshotChunkConsumed': {
          const job = this.job!;
          const next = reply.chunk + 1;
          if (next < job.chunks.length) {
            this.receive({ type: 'RestoreSnapshotChunk', meta: job.meta, chunk: next, data: job.chunks[next]!, done: next === job.chunks.length - 1 });
          }
          return;
        }
        case 'SnapshotRestored':
          this.appliedThrough = reply.meta.index;
          this.job!.outcome = { kind: 'restored', meta: reply.meta };
          return;
        case 'SnapshotFailed':
          this.job!.outcome = { kind: 'failed', meta: reply.meta, message: reply.message };
          return;
      }
    });
  }

  /** A snapshot job has started and its outcome is not known yet (the microtask queue must run). */
  get busy(): boolean {
    return this.job !== null && this.job.outcome === null;
  }

  /** Snapshot the state (everything applied so far) in chunks of at most `chunkBytes` after the session header. */
  takeSnapshot(meta: SnapshotMeta, chunkBytes: number): void {
    this.startJob({ kind: 'take', meta, chunks: [], outcome: null });
    this.receive({ type: 'TakeSnapshot', meta, chunkBytes });
  }

  /** Replace the state with a stored snapshot's chunks. */
  restoreFrom(meta: SnapshotMeta, chunks: readonly Uint8Array[]): void {
    if (chunks.length === 0) throw new Error(`snapshot ${meta.index} has no chunks`);
    this.startJob({ kind: 'restore', meta, chunks: [...chunks], outcome: null });
    this.receive({ type: 'BeginRestore', meta });
    this.receive({ type: 'RestoreSnapshotChunk', meta, chunk: 0, data: chunks[0]!, done: chunks.length === 1 });
  }

  /** The outcome of the finished job, if one was started. */
  finishJob(): SnapshotJobOutcome | null {
    const job = this.job;
    if (job === null) return null;
    if (job.outcome === null) throw new Error(`${this.nodeId}: the snapshot ${job.kind} of ${job.meta.index} has not finished`);
    this.job = null;
    return job.outcome;
  }

  private startJob(job: SnapshotJob): void {
    if (this.job !== null) throw new Error(`${this.nodeId}: a snapshot ${this.job.kind} is already under way`);
    this.job = job;
  }

  /**
   * A hash of the whole replicated state: the store, the requests applied, and the number of live sessions (the
   * sessions themselves are the base class's and travel in its chunk 0).
   */
  digest(): number {
    let hash = 0;
    const fold = (data: string) => (hash = chainHash(hash, { index: 0, term: 0, kind: 'command', data }));
    for (const key of [...this.store.keys()].sort()) fold(`${key}=${this.store.get(key)!}`);
    for (const request of this.appliedRequests) fold(request);
    fold(`sessions=${this.sessionCount}`);
    return hash;
  }

  protected override snapshotValue(): unknown {
    return { store: [...this.store], appliedRequests: [...this.appliedRequests] };
  }

  protected override restoreValue(value: unknown): void {
    const state = value as { store: [string, string][]; appliedRequests: string[] };
    this.store.clear();
    for (const [key, entry] of state.store) this.store.set(key, entry);
    this.appliedRequests.clear();
    for (const request of state.appliedRequests) this.appliedRequests.add(request);
  }

  /** Every entry up to this index has been applied. */
  get appliedIndex(): number {
    return this.appliedThrough;
  }

  /** Apply committed entries now (the node layer would send this message to the actor). */
  applyEntries(entries: readonly Entry[], proposals: ReadonlyMap<number, string>): void {
    if (this.busy) throw new Error(`${this.nodeId}: entries handed to apply while a snapshot job runs`);
    this.receive({ type: 'Apply', entries, proposals });
    if (this.violation !== null) throw this.violation;
  }

  read(key: string): string | null {
    return this.store.get(key) ?? null;
  }

  apply(command: KvCommand, _context: ApplyContext): string | null {
    if (command.op === 'opaque') return null;
    const request = `${command.client}:${command.seq}`;
    if (this.appliedRequests.has(request)) {
      this.violation ??= new SafetyViolation('Session Exactly-Once', `${this.nodeId} applied request ${request} twice (again by attempt ${command.attempt})`);
    }
    this.appliedRequests.add(request);
    if (command.op === 'put') {
      this.store.set(command.key, command.value);
      return null;
    }
    const next = (this.store.get(command.key) ?? '') + command.value;
    this.store.set(command.key, next);
    return next;
  }
}
