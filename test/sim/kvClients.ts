/**
 * Linearizable key-value clients in the simulator (issue 4's acceptance): several clients issue put, append and get
 * on a few keys, concurrently, through whichever nodes they pick, under every fault the simulation injects. Their
 * history (call and return in virtual time, outputs) is checked with `checkLinearizable` at the end of the run.
 *
 * Each client behaves like `ClientSession` (src/session.ts): it registers its session with seq 0, then sends one
 * request at a time; a write carries `{ client, seq, ack, at }` and is retried with the *same* seq, possibly through
 * another node, after NOT_LEADER or an attempt timeout, until the operation's deadline. An operation abandoned at its
 * deadline is recorded with an unknown outcome (it may take effect at any later time, or never).
 *
 * Reads use ReadIndex on the node the client talks to (a follower asks its leader) and are served from that node's
 * state machine once it has applied the returned index, as the node runtime does. With `leaseReads`, half of them ask
 * for a lease read, on the node's own skewed clock: the simulation then keeps clock rates within the drift bound
 * (`leaseClockDrift`) under which leases are safe.
 */
import type { ProposalResult } from '../../actors/state-machine/StateMachine.js';
import type { NodeId, ProposalFailure } from '../../src/core/types.js';
import type { HistoryEntry, KvOperation } from '../support/linearizability.js';
import type { ClientLedger } from './clientLedger.js';
import { encodeKvCommand } from './kvStateMachine.js';
import type { RandomStream } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import type { SimNode } from './simNode.js';

/** What the workload needs from the simulation that runs it. */
export interface ClientHost {
  readonly now: number;
  /** Whether clients start new operations (the fault phase); operations under way always run to their end. */
  readonly accepting: boolean;
  readonly ledger: ClientLedger;
  /** Run `action` at virtual time `time`, as an event of the simulation. */
  schedule(time: number, what: string, action: () => void): void;
  /** Nodes a client may talk to now: running and in service. */
  reachableNodes(): SimNode[];
  node(id: NodeId): SimNode | undefined;
  currentLeader(): SimNode | undefined;
  record(line: string): void;
}

export interface KvWorkloadOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Overall deadline of one operation, retries included. */
  readonly operationDeadlineMs: number;
  /** Deadline of one attempt before it is retried. */
  readonly attemptTimeoutMs: number;
  /**
   * Break the client protocol on purpose, to show the checks can fail: `stale-reads` serves a get from the local
   * state machine at once (no ReadIndex); `no-sessions` retries writes without a session tag.
   */
  readonly sabotage?: 'stale-reads' | 'no-sessions';
  /** Ask for lease reads half of the time (the nodes need `config.leaseReads`). */
  readonly leaseReads?: boolean;
}

interface OpenOperation {
  /** null: the session registration (seq 0), which is not part of the history. */
  readonly op: KvOperation | null;
  readonly seq: number;
  readonly call: number;
  readonly deadline: number;
  /** The id of the attempt in flight, if any; answers to any other attempt are ignored. */
  attempt: string | null;
}

interface Attempt {
  readonly client: SimClient;
  readonly node: SimNode;
  readonly incarnation: number;
  /** For a read: the confirmed read index, once known. */
  readIndex: number | null;
}

class SimClient {
  nextSeq = 1;
  registered = false;
  leaderHint: NodeId | null = null;
  operation: OpenOperation | null = null;
  constructor(readonly name: string) {}
}

export interface KvWorkloadStats {
  operations: number;
  completed: number;
  abandoned: number;
  attempts: number;
  reads: number;
  /** Reads a leader answered at once from its lease, without a round. */
  leaseReads: number;
}

export class KvWorkload {
  readonly history: HistoryEntry[] = [];
  readonly stats: KvWorkloadStats = { operations: 0, completed: 0, abandoned: 0, attempts: 0, reads: 0, leaseReads: 0 };
  private readonly clients: SimClient[];
  /** Attempts whose answer the client still waits for, by attempt id (proposal id or read id). */
  private readonly attempts = new Map<string, Attempt>();
  private nextReadId = 1;
  /** The read being asked for right now, and whether the node made it ready before the call returned. */
  private readInCall: { readonly id: string; ready: boolean } | null = null;
  private nextHistoryId = 1;

  constructor(
    private readonly host: ClientHost,
    private readonly random: RandomStream,
    private readonly options: KvWorkloadOptions,
  ) {
    this.clients = Array.from({ length: options.clients }, (_, i) => new SimClient(String.fromCharCode(97 + i)));
  }

  start(): void {
    for (const client of this.clients) this.host.schedule(this.host.now + this.random.between(0, 100), `client ${client.name} starts`, () => this.next(client));
  }

  /** Operations still open when the run ends have an unknown outcome. */
  finish(): void {
    for (const client of this.clients) {
      const operation = client.operation;
      if (operation?.op !== null && operation !== null) this.close(client, null, null);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // What nodes report

  /** The state machine on `node` answered proposals made there. */
  proposalResults(node: SimNode, results: readonly ProposalResult<string | null, unknown>[]): void {
    for (const { proposalId, outcome } of results) {
      const attempt = this.current(proposalId, node);
      if (attempt === undefined) continue;
      const client = attempt.client;
      if (!outcome.ok) {
        // The session was registered before any request, lives for an hour of replicated time, and the attempt in
        // flight is never below the acknowledged mark: no error is legitimate here.
        throw new SafetyViolation('Client Session', `client ${client.name} seq ${client.operation!.seq} was answered with ${String(outcome.error)} on ${node.id}`);
      }
      client.leaderHint = node.core?.leader ?? null;
      this.close(client, this.host.now, outcome.value);
    }
  }

  proposalFailed(node: SimNode, id: string, failure: ProposalFailure): void {
    const attempt = this.current(id, node);
    if (attempt === undefined) return;
    attempt.client.leaderHint = failure.leaderHint;
    this.retry(attempt.client, id, `${failure.code}/${failure.outcome}`);
  }

  readReady(node: SimNode, ids: readonly string[], index: number): void {
    if (this.readInCall !== null && ids.includes(this.readInCall.id)) this.readInCall.ready = true;
    for (const id of ids) {
      const attempt = this.current(id, node);
      if (attempt !== undefined) attempt.readIndex = index;
    }
    this.serveReads(node);
  }

  readFailed(node: SimNode, ids: readonly string[], leaderHint: NodeId | null): void {
    for (const id of ids) {
      const attempt = this.current(id, node);
      if (attempt === undefined) continue;
      attempt.client.leaderHint = leaderHint;
      this.retry(attempt.client, id, 'read failed');
    }
  }

  /** `node`'s state machine applied more entries: serve the reads whose index it has reached. */
  serveReads(node: SimNode): void {
    for (const [id, attempt] of this.attempts) {
      if (attempt.node !== node || attempt.incarnation !== node.incarnation || attempt.readIndex === null) continue;
      if (node.kv.appliedIndex < attempt.readIndex) continue;
      const operation = attempt.client.operation!;
      const key = operation.op!.key;
      this.attempts.delete(id);
      this.host.record(`client ${attempt.client.name} read ${id} served by ${node.id} at ${node.kv.appliedIndex} (index ${attempt.readIndex})`);
      this.close(attempt.client, this.host.now, node.kv.read(key));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Clients

  /** The attempt `id` if it is its client's attempt in flight, made on this incarnation of `node`. */
  private current(id: string, node: SimNode): Attempt | undefined {
    const attempt = this.attempts.get(id);
    if (attempt === undefined || attempt.node !== node || attempt.incarnation !== node.incarnation) return undefined;
    if (attempt.client.operation?.attempt !== id) return undefined;
    return attempt;
  }

  /** Begin the client's next operation (registration first). */
  private next(client: SimClient): void {
    if (client.operation !== null || !this.host.accepting) return;
    const now = this.host.now;
    let op: KvOperation | null = null;
    let seq = 0;
    if (client.registered) {
      const key = this.random.pick(this.options.keys);
      const roll = this.random.next();
      if (roll < 0.4) op = { kind: 'get', key };
      else {
        seq = client.nextSeq++;
        op = { kind: roll < 0.7 ? 'put' : 'append', key, value: `${client.name}${seq}` };
      }
      this.stats.operations++;
    }
    client.operation = { op, seq, call: now, deadline: now + this.options.operationDeadlineMs, attempt: null };
    this.attempt(client);
  }

  private attempt(client: SimClient): void {
    const operation = client.operation!;
    const now = this.host.now;
    if (now >= operation.deadline) {
      this.close(client, null, null);
      return;
    }
    const node = this.pickNode(client);
    if (node === undefined) {
      this.host.schedule(now + this.random.between(20, 100), `client ${client.name} retries`, () => this.attempt(client));
      return;
    }
    this.stats.attempts++;
    const op = operation.op;
    let id: string;
    if (op?.kind === 'get') {
      id = `r${this.nextReadId++}`;
      this.stats.reads++;
    } else {
      const proposal = this.host.ledger.createWith(node.id, now, (_seq, proposalId) =>
        op === null
          ? `register:${client.name}:${proposalId}`
          : encodeKvCommand({ op: op.kind as 'put' | 'append', key: op.key, value: op.value, client: client.name, seq: operation.seq, attempt: proposalId }),
      );
      id = proposal.id;
    }
    operation.attempt = id;
    this.attempts.set(id, { client, node, incarnation: node.incarnation, readIndex: null });
    const timeout = Math.min(this.options.attemptTimeoutMs, operation.deadline - now);
    this.host.schedule(now + timeout, `attempt ${id} times out`, () => {
      if (client.operation === operation && operation.attempt === id) this.retry(client, id, 'timeout');
    });
    if (op?.kind === 'get') {
      this.host.record(`client ${client.name} get ${op.key} ${id} on ${node.id}`);
      if (this.options.sabotage === 'stale-reads') {
        this.close(client, now, node.kv.read(op.key));
        return;
      }
      const lease = this.options.leaseReads === true && this.random.chance(0.5);
      this.readInCall = { id, ready: false };
      node.input((core) => core.readIndex([id], { lease, now: node.localNow(now) }));
      // Made ready within the call, without a heartbeat round: only a lease does that.
      if (lease && this.readInCall.ready) {
        this.stats.leaseReads++;
        this.host.record(`client ${client.name} read ${id} answered by the lease of ${node.id}`);
      }
      this.readInCall = null;
    } else {
      const data = this.host.ledger.get(id)!.data;
      // One request outstanding per client: everything below this seq has been answered or abandoned.
      const session = { client: client.name, seq: operation.seq, ack: operation.seq, at: now };
      this.host.record(`client ${client.name} ${op === null ? 'register' : `${op.kind} ${op.key}`} seq ${operation.seq} ${id} on ${node.id}`);
      const withSession = op === null || this.options.sabotage !== 'no-sessions';
      node.input((core) => core.propose([withSession ? { id, data, session } : { id, data }]));
    }
  }

  /** Forget the attempt in flight and try again shortly (never synchronously: effects are still being performed). */
  private retry(client: SimClient, id: string, why: string): void {
    const operation = client.operation!;
    this.attempts.delete(id);
    operation.attempt = null;
    this.host.record(`client ${client.name} attempt ${id} failed (${why})`);
    // Without a leader to try, back off longer: an election takes at least an election timeout.
    const delay = client.leaderHint === null ? this.random.between(100, 400) : this.random.between(10, 100);
    this.host.schedule(this.host.now + delay, `client ${client.name} retries`, () => {
      if (client.operation === operation) this.attempt(client);
    });
  }

  /** The operation ends: answered at `ret`, or abandoned (ret null). */
  private close(client: SimClient, ret: number | null, output: string | null): void {
    const operation = client.operation!;
    if (operation.attempt !== null) this.attempts.delete(operation.attempt);
    client.operation = null;
    if (operation.op === null) {
      if (ret !== null) client.registered = true;
    } else {
      if (ret === null) this.stats.abandoned++;
      else this.stats.completed++;
      this.history.push({ id: this.nextHistoryId++, client: client.name, op: operation.op, call: operation.call, ret, output: ret === null ? null : output });
    }
    this.host.schedule(this.host.now + this.random.between(0, 80), `client ${client.name} thinks`, () => this.next(client));
  }

  private pickNode(client: SimClient): SimNode | undefined {
    const nodes = this.host.reachableNodes();
    if (nodes.length === 0) return undefined;
    if (client.leaderHint !== null && this.random.chance(0.8)) {
      const hinted = this.host.node(client.leaderHint);
      if (hinted !== undefined && nodes.includes(hinted)) return hinted;
    }
    const leader = this.host.currentLeader();
    if (leader !== undefined && nodes.includes(leader) && this.random.chance(0.5)) return leader;
    return this.random.pick(nodes);
  }
}
