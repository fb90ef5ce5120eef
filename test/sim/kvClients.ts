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
 * Every attempt goes through the real node: writes with `trackProposal` and `xraft.propose`, reads with `trackRead` and
 * `xraft.read` (ReadIndex on the node the client talks to, a follower asking its leader, served by the runtime once the
 * state machine has applied the read index). With `leaseReads`, half of the reads ask for a lease read, on the node's
 * own skewed clock: the simulation then keeps clock rates within the drift bound (`leaseClockDrift`) under which leases
 * are safe.
 */
import type { NodeId } from '../../src/core/types.js';
import { NotLeaderError, RejectedError, SessionExpiredError } from '../../src/errors.js';
import type { HistoryEntry, KvOperation } from '../support/linearizability.js';
import { encodeKvCommand } from './kvStateMachine.js';
import type { RandomStream } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import type { CallOutcome, SimHost } from './simHost.js';
import { settleProposal } from './workload.js';
import type { SimWorld } from './world.js';

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
  readonly node: SimHost;
  readonly incarnation: number;
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
  private nextHistoryId = 1;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
    private readonly options: KvWorkloadOptions,
  ) {
    this.clients = Array.from({ length: options.clients }, (_, i) => new SimClient(String.fromCharCode(97 + i)));
  }

  start(): void {
    for (const client of this.clients) this.world.at(this.world.queue.now + this.random.between(0, 100), () => this.next(client));
  }

  /** Operations still open when the run ends have an unknown outcome. */
  finish(): void {
    for (const client of this.clients) {
      const operation = client.operation;
      if (operation?.op !== null && operation !== null) this.close(client, null, null);
    }
  }

  /**
   * Make every idle client read through `host` now, with a lease when `lease` (the nemesis asks for this right after a
   * leadership transfer began). Returns how many reads started.
   */
  readNow(host: SimHost, lease: boolean): number {
    let started = 0;
    for (const client of this.clients) {
      if (client.operation !== null || !client.registered || !host.up || host.decommissioned || this.world.phase !== 'faults') continue;
      const key = this.random.pick(this.options.keys);
      this.stats.operations++;
      const now = this.world.queue.now;
      client.operation = { op: { kind: 'get', key }, seq: 0, call: now, deadline: now + this.options.operationDeadlineMs, attempt: null };
      this.attempt(client, { host, lease });
      started++;
    }
    return started;
  }

  /** A write attempt's caller heard. */
  private writeAnswered(node: SimHost, id: string, outcome: CallOutcome<{ result: string | null; data: string | undefined }>): void {
    settleProposal(this.world, node, id, outcome);
    const attempt = this.current(id, node);
    if (attempt === undefined) return;
    const client = attempt.client;
    if (outcome.ok) {
      client.leaderHint = node.core?.leader ?? null;
      this.close(client, this.world.queue.now, outcome.value.result);
      return;
    }
    const error = outcome.error;
    if (error instanceof RejectedError || error instanceof SessionExpiredError) {
      // The session was registered before any request, lives for an hour of replicated time, and the attempt in
      // flight is never below the acknowledged mark: no such answer is legitimate here.
      throw new SafetyViolation('Client Session', `client ${client.name} seq ${client.operation!.seq} was answered with ${String(error instanceof RejectedError ? error.cause : error)} on ${node.id}`);
    }
    if (error instanceof NotLeaderError) client.leaderHint = error.leaderHint;
    this.retry(client, id, (error as { code?: string }).code ?? error.name);
  }

  /** A read attempt's caller heard. */
  private readAnswered(node: SimHost, id: string, outcome: CallOutcome<string | null>): void {
    const attempt = this.current(id, node);
    if (attempt === undefined) return;
    const client = attempt.client;
    if (outcome.ok) {
      this.world.record(`client ${client.name} read ${id} served by ${node.id} at ${node.kv.appliedIndex}`);
      this.close(client, this.world.queue.now, outcome.value);
      return;
    }
    if (outcome.error instanceof NotLeaderError) client.leaderHint = outcome.error.leaderHint;
    this.retry(client, id, `read failed (${(outcome.error as { code?: string }).code ?? outcome.error.name})`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Clients

  /** The attempt `id` if it is its client's attempt in flight, made on this incarnation of `node`. */
  private current(id: string, node: SimHost): Attempt | undefined {
    const attempt = this.attempts.get(id);
    if (attempt === undefined || attempt.node !== node || attempt.incarnation !== node.incarnation) return undefined;
    if (attempt.client.operation?.attempt !== id) return undefined;
    return attempt;
  }

  /** Begin the client's next operation (registration first). */
  private next(client: SimClient): void {
    if (client.operation !== null || this.world.phase !== 'faults') return;
    const now = this.world.queue.now;
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

  /** Try the client's operation once, on a node it picks (or on `forced`, with or without a lease). */
  private attempt(client: SimClient, forced?: { readonly host: SimHost; readonly lease: boolean }): void {
    const operation = client.operation!;
    const world = this.world;
    const now = world.queue.now;
    if (now >= operation.deadline) {
      this.close(client, null, null);
      return;
    }
    const node = forced?.host ?? this.pickNode(client);
    if (node === undefined || !node.up) {
      world.at(now + this.random.between(20, 100), () => this.attempt(client));
      return;
    }
    this.stats.attempts++;
    const op = operation.op;
    let id: string;
    if (op?.kind === 'get') {
      id = `r${this.nextReadId++}`;
      this.stats.reads++;
    } else {
      const proposal = world.ledger.createWith(node.id, now, (_seq, proposalId) =>
        op === null
          ? `register:${client.name}:${proposalId}`
          : encodeKvCommand({ op: op.kind as 'put' | 'append', key: op.key, value: op.value, client: client.name, seq: operation.seq, attempt: proposalId }),
      );
      id = proposal.id;
    }
    operation.attempt = id;
    this.attempts.set(id, { client, node, incarnation: node.incarnation });
    const timeout = Math.min(this.options.attemptTimeoutMs, operation.deadline - now);
    world.at(now + timeout, () => {
      if (client.operation === operation && operation.attempt === id) this.retry(client, id, 'timeout');
    });
    // The node's own deadline for the caller: past the client's, which retries first.
    const nodeTimeout = this.options.operationDeadlineMs;
    if (op?.kind === 'get') {
      world.record(`client ${client.name} get ${op.key} ${id} on ${node.id}`);
      if (this.options.sabotage === 'stale-reads') {
        this.close(client, now, node.kv.read(op.key));
        return;
      }
      const lease = forced?.lease ?? (this.options.leaseReads === true && this.random.chance(0.5));
      let answered = false;
      node.read(id, op.key, lease, nodeTimeout, (outcome) => {
        answered = true;
        this.readAnswered(node, id, outcome);
      });
      // Answered within the call, without a heartbeat round: only a lease does that.
      if (lease && answered && client.operation?.attempt !== id) {
        this.stats.leaseReads++;
        world.record(`client ${client.name} read ${id} answered by the lease of ${node.id}`);
      }
    } else {
      const data = world.ledger.get(id)!.data;
      // One request outstanding per client: everything below this seq has been answered or abandoned.
      const session = { client: client.name, seq: operation.seq, ack: operation.seq, at: now };
      world.record(`client ${client.name} ${op === null ? 'register' : `${op.kind} ${op.key}`} seq ${operation.seq} ${id} on ${node.id}`);
      const withSession = op === null || this.options.sabotage !== 'no-sessions';
      node.propose([withSession ? { id, data, session } : { id, data }], nodeTimeout, (proposalId, outcome) => this.writeAnswered(node, proposalId, outcome));
    }
  }

  /** Forget the attempt in flight and try again shortly (never synchronously: effects are still being performed). */
  private retry(client: SimClient, id: string, why: string): void {
    const operation = client.operation!;
    this.attempts.delete(id);
    operation.attempt = null;
    this.world.record(`client ${client.name} attempt ${id} failed (${why})`);
    // Without a leader to try, back off longer: an election takes at least an election timeout.
    const delay = client.leaderHint === null ? this.random.between(100, 400) : this.random.between(10, 100);
    this.world.at(this.world.queue.now + delay, () => {
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
    this.world.at(this.world.queue.now + this.random.between(0, 80), () => this.next(client));
  }

  private pickNode(client: SimClient): SimHost | undefined {
    const nodes = this.world.hosts.filter((host) => host.up && !host.decommissioned);
    if (nodes.length === 0) return undefined;
    if (client.leaderHint !== null && this.random.chance(0.8)) {
      const hinted = this.world.hosts.find((host) => host.id === client.leaderHint);
      if (hinted !== undefined && nodes.includes(hinted)) return hinted;
    }
    const leader = this.world.currentLeader();
    if (leader !== undefined && nodes.includes(leader) && this.random.chance(0.5)) return leader;
    return this.random.pick(nodes);
  }
}
