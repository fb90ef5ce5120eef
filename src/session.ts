/**
 * Client sessions: exactly-once proposals (Raft thesis 6.3, dragonboat's sessions, Ratis's retry cache).
 *
 * Every request of a session carries (client, seq). The replicated state machine applies each pair at most once and
 * remembers its outcome until the client acknowledges it, so a request retried after a timeout or a leader change
 * gets the first outcome instead of being applied again. Expiry is decided by timestamps in the log (replicated
 * time), so every node forgets the same sessions at the same entry.
 */
import { nanoid } from 'nanoid';
import type { SessionTag } from './core/index.js';
import { NotLeaderError, TimeoutError, type XraftError } from './errors.js';

export interface SessionOptions {
  /** Overall deadline of one request, retries included (ms of the node's timer). Default: the node's operation timeout. */
  readonly timeoutMs?: number;
  /** Deadline of one attempt before it is retried. Default: a quarter of timeoutMs. */
  readonly attemptTimeoutMs?: number;
  /** Pause between attempts. Default 50 ms. */
  readonly retryDelayMs?: number;
}

/** What a session needs from its node. */
export interface SessionTransport<Result> {
  readonly propose: (data: string, session: SessionTag, timeoutMs: number) => Promise<Result>;
  readonly sleep: (ms: number) => Promise<void>;
  /** The node's clock (its timer's), in ms. */
  readonly now: () => number;
}

interface Settings {
  readonly timeoutMs: number;
  readonly attemptTimeoutMs: number;
  readonly retryDelayMs: number;
}

export class ClientSession<Command, Result> {
  /** The session's client id (a nanoid), recorded in the replicated state. */
  readonly id = nanoid();
  private nextSeq = 1;
  /** Requests sent but not answered; the lowest is the acknowledgement mark sent with every request. */
  private readonly outstanding = new Set<number>();

  private constructor(
    private readonly transport: SessionTransport<Result> & { readonly encode: (command: Command) => string },
    private readonly settings: Settings,
  ) {}

  /** @internal Register a new session in the replicated state. */
  static async open<Command, Result>(
    transport: SessionTransport<Result> & { readonly encode: (command: Command) => string },
    options: SessionOptions & { readonly timeoutMs: number },
  ): Promise<ClientSession<Command, Result>> {
    const settings: Settings = {
      timeoutMs: options.timeoutMs,
      attemptTimeoutMs: options.attemptTimeoutMs ?? Math.max(1, Math.floor(options.timeoutMs / 4)),
      retryDelayMs: options.retryDelayMs ?? 50,
    };
    const session = new ClientSession<Command, Result>(transport, settings);
    // Registration is idempotent, so it is retried like any request.
    await session.send('', 0);
    return session;
  }

  /**
   * Propose `command` exactly once: retried on NOT_LEADER and TIMEOUT until `timeoutMs`, and applied once however
   * many attempts reach the log. Rejects like `RaftNode.propose`, or with SessionExpiredError.
   */
  async propose(command: Command): Promise<Result> {
    const data = this.transport.encode(command);
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    try {
      return await this.send(data, seq);
    } finally {
      // Answered or abandoned: either way the client will not ask again, so the state machine may forget it.
      this.outstanding.delete(seq);
    }
  }

  private async send(data: string, seq: number): Promise<Result> {
    const started = this.transport.now();
    let lastError: XraftError | null = null;
    for (let elapsed = 0; elapsed < this.settings.timeoutMs; elapsed = this.transport.now() - started) {
      const tag: SessionTag = { client: this.id, seq, ack: this.ackMark(seq), at: Date.now() };
      try {
        return await this.transport.propose(data, tag, Math.min(this.settings.attemptTimeoutMs, this.settings.timeoutMs - elapsed));
      } catch (error) {
        if (!(error instanceof NotLeaderError || error instanceof TimeoutError)) throw error;
        lastError = error;
      }
      await this.transport.sleep(this.settings.retryDelayMs);
    }
    throw lastError ?? new TimeoutError(this.settings.timeoutMs);
  }

  private ackMark(seq: number): number {
    let lowest = seq;
    for (const outstanding of this.outstanding) lowest = Math.min(lowest, outstanding);
    return lowest;
  }
}
