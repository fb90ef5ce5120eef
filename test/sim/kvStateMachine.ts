/**
 * The simulated application for client workloads: a key-value store built on xraft's real `StateMachine` base class,
 * run by the real node (its runtime sends Apply, TakeSnapshot, BeginRestore, ... and hears the replies), so that the
 * client-session deduplication and the snapshot choreography under test are the ones production runs.
 *
 * Beside the store it checks the promise sessions make: a (client, seq) pair is applied at most once per incarnation
 * of the state machine, however many attempts of it reach the log. The requests applied so far are part of the state
 * (they travel in snapshots), so a request applied before a snapshot and again after a restore from it is caught too.
 *
 * It reports what it does to a `KvObserver` (the node host): the messages it receives (snapshot messages start work on
 * promises, which the simulation lets run before its next event), each applied batch with its entries, and restores.
 * The safety checker's reference replay uses one driven by hand (`KvStateMachine.reference`).
 */
import { StateMachine, type Apply, type ApplyContext, type ProposalResult, type StateMachineMessage, type StateMachineReply } from '../../actors/state-machine/StateMachine.js';
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

/** What a node host hears from its state machine. */
export interface KvObserver {
  /** A message arrived from the node (before it is handled). */
  received(message: StateMachineMessage): void;
  /** A batch was applied: its entries, and the answers to proposals made on this node. */
  applied(entries: readonly Entry[], results: readonly ProposalResult<string | null, unknown>[]): void;
  /** The state was replaced by a snapshot's. */
  restored(meta: SnapshotMeta): void;
  /** A broken promise (a request applied twice, a snapshot job that failed). */
  failed(error: SafetyViolation): void;
}

export class KvStateMachine extends StateMachine<KvCommand, string | null> {
  private readonly store = new Map<string, string>();
  /** `client:seq` of every session command applied by this incarnation. */
  private readonly appliedRequests = new Set<string>();
  private appliedThrough = 0;
  /** Apply messages not answered yet, oldest first: an Applied reply answers the first. */
  private readonly unanswered: Apply[] = [];
  /**
   * A broken promise found while applying. `StateMachine` turns anything `apply` throws into that command's
   * rejection, so the violation is kept here and reported once the batch is applied.
   */
  violation: SafetyViolation | null = null;

  constructor(
    readonly nodeId: string,
    private readonly observer: KvObserver | null = null,
  ) {
    super();
  }

  /** A state machine driven by hand, outside any node: the safety checker's reference replay of the committed log. */
  static reference(): KvStateMachine {
    const kv = new KvStateMachine('reference');
    kv.useDecoder((entry) => decodeKvCommand(entry.data));
    kv.attach(() => {});
    return kv;
  }

  override receive(message: StateMachineMessage): void {
    if (message.type === 'Apply' && this.observer !== null) this.unanswered.push(message);
    this.observer?.received(message);
    super.receive(message);
  }

  protected override reply(message: StateMachineReply<string | null, unknown>): void {
    const observer = this.observer;
    if (observer !== null) {
      switch (message.type) {
        case 'Applied': {
          const batch = this.unanswered.shift();
          if (batch === undefined || batch.entries[batch.entries.length - 1]?.index !== message.index) {
            observer.failed(new SafetyViolation('Apply Contract', `${this.nodeId} answered Applied ${message.index} for another batch`));
          } else {
            this.appliedThrough = message.index;
            observer.applied(batch.entries, message.results);
          }
          if (this.violation !== null) observer.failed(this.violation);
          break;
        }
        case 'SnapshotRestored':
          this.appliedThrough = message.meta.index;
          observer.restored(message.meta);
          break;
        case 'SnapshotFailed':
          // The key-value state always snapshots and restores: a failure is a bug in the state machine layer.
          observer.failed(new SafetyViolation('Snapshot Job', `${this.nodeId}: snapshot ${message.meta.index}: ${message.message}`));
          break;
        default:
          break;
      }
    }
    super.reply(message);
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

  /** Apply committed entries now (the reference replay, driven by hand). */
  applyEntries(entries: readonly Entry[]): void {
    this.receive({ type: 'Apply', entries, proposals: new Map() });
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
