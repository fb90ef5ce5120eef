/**
 * The simulated application for client workloads: a key-value store built on xraft's real `StateMachine` base class,
 * so that the client-session deduplication under test is the one production runs.
 *
 * It is driven synchronously, the way the node's statechart drives it asynchronously: `receive({ type: 'Apply' })`
 * with the core's `apply` effect, results back through the callback given to `attach`.
 *
 * Beside the store it checks the promise sessions make: a (client, seq) pair is applied at most once per incarnation
 * of the state machine, however many attempts of it reach the log.
 */
import { StateMachine, type ApplyContext, type ProposalResult } from '../../actors/state-machine/StateMachine.js';
import type { Entry } from '../../src/core/types.js';
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

export class KvStateMachine extends StateMachine<KvCommand, string | null> {
  private readonly store = new Map<string, string>();
  /** `client:seq` of every session command applied by this incarnation. */
  private readonly appliedRequests = new Set<string>();
  private appliedThrough = 0;
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
      if (reply.type !== 'Applied') return;
      this.appliedThrough = reply.index;
      if (reply.results.length > 0) onResults(reply.results);
    });
  }

  /** Every entry up to this index has been applied. */
  get appliedIndex(): number {
    return this.appliedThrough;
  }

  /** Apply committed entries now (the node layer would send this message to the actor). */
  applyEntries(entries: readonly Entry[], proposals: ReadonlyMap<number, string>): void {
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
