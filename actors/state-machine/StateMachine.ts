/**
 * The state machine actor: the application's replicated state. Users subclass `StateMachine` and implement `apply`;
 * the node hands it committed entries in log order, exactly once per entry per incarnation of the node.
 *
 * `apply` must be deterministic: every node applies the same commands in the same order and must reach the same
 * state and results. Throwing rejects that one command (the proposer gets `Rejected` with what was thrown) without
 * stopping the node; the throw must be deterministic too.
 */
import superjson from 'superjson';
import { Actor } from '../../src/actor.js';
import type { Entry, SessionTag, SnapshotMeta } from '../../src/core/index.js';
import { SessionExpiredError } from '../../src/errors.js';
import { ChunkChannel, rechunk } from './snapshotStreams.js';
import type {
  Applied, ApplyOutcome, BeginRestore, NextSnapshotChunk, ProposalResult, RestoreSnapshotChunk, SnapshotChunkConsumed,
  SnapshotChunkTaken, SnapshotFailed, SnapshotRestored, StateMachineMessage, StateMachineReply, TakeSnapshot, Apply,
} from './stateMachineMessages.js';

export type * from './stateMachineMessages.js';

/** The state machine implements neither `snapshot`/`restore` nor `snapshotValue`/`restoreValue`. */
export class SnapshotsUnsupportedError extends Error {
  constructor(name: string) {
    super(`${name} cannot take snapshots: override snapshot()/restore() or snapshotValue()/restoreValue()`);
    this.name = 'SnapshotsUnsupportedError';
  }
}

/** Where an entry sits in the log, given to `apply` for applications that need it (timestamps, ids, fencing). */
export interface ApplyContext {
  readonly index: number;
  readonly term: number;
}

/** A committed entry whose command no longer decodes with the node's schema (for example after a schema change). */
export class CommandDecodeError extends Error {
  readonly code = 'COMMAND_DECODE_FAILED';
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(`entry ${index}: ${message}`);
    this.name = 'CommandDecodeError';
  }
}

/** How a committed entry's data becomes a command (the node may hand back one it decoded when the entry arrived). */
export type CommandDecoder<Command> = (entry: Entry) => Command;

/** What the replicated state remembers of one client session. */
interface SessionRecord<Result, AppError> {
  /** Outcomes of the requests the client has not acknowledged yet, by seq. */
  readonly responses: Map<number, ApplyOutcome<Result, AppError>>;
  lastActive: number;
  /**
   * The highest acknowledgement mark any request of the session carried: every seq below it was answered or given up
   * by the client, and its outcome forgotten. An older request that reaches the log later (a delayed retry) must
   * never apply, even though its own `ack` is lower.
   */
  ackedBelow: number;
}

export abstract class StateMachine<Command, Result = unknown, AppError = unknown> extends Actor<
  StateMachineMessage,
  StateMachineReply<Result, AppError>
> {
  #decoder: CommandDecoder<Command> | null = null;
  /** Work in log order: applies, and the snapshots taken or restored between them. */
  readonly #queue: (Apply | TakeSnapshot | BeginRestore)[] = [];
  /** While a snapshot is being taken: produce the next chunk. */
  #nextChunk: (() => void) | null = null;
  /** A snapshot of a state machine whose `snapshot()` captures the state, streaming while applies go on. */
  #streaming: Promise<void> | null = null;
  /** While a snapshot is being restored: where its chunks go. */
  #restoreChannel: { readonly meta: SnapshotMeta; readonly channel: ChunkChannel; chunk: number } | null = null;
  /** Position inside queue[0] where applying resumes after an asynchronous apply. */
  #cursor = 0;
  #results: ProposalResult<Result, AppError>[] = [];
  #busy = false;
  /** Client sessions, part of the replicated state (a snapshot must carry them). */
  readonly #sessions = new Map<string, SessionRecord<Result, AppError>>();
  /** Replicated time: the largest session timestamp applied so far. */
  #sessionClock = 0;
  #lastExpiry = 0;

  /**
   * How long a client session lives without requests, in replicated time (ms). Expiry is decided by timestamps in
   * the log, so every node expires the same sessions at the same entry. Override to change.
   */
  protected sessionTimeToLiveMs = 60 * 60 * 1000;
  /**
   * True when `snapshot()` captures the state when it is called (copies it, or takes an immutable view) and reads
   * nothing live afterwards: applies then go on while the snapshot streams to the log store, instead of waiting for
   * its last chunk. A generator function does not qualify (its body runs only when first read). Default false.
   */
  protected readonly snapshotCapturesState: boolean = false;

  /** Apply one committed command and return its result (or a promise of it). Throw to reject the command. */
  abstract apply(command: Command, context: ApplyContext): Result | Promise<Result>;

  /**
   * The state as a stream of bytes, for a snapshot. Called once every entry up to the snapshot's index is applied;
   * later applies wait until the stream ends, so it may read the live state. Yield pieces of any size (they are
   * re-chunked); never hold the whole state in memory if it is large. The snapshot is taken on the node's event loop:
   * a large state is best yielded from an async generator that awaits `setImmediate` between pieces, so that the
   * node's traffic goes on in between (the KV example's store does). The default encodes `snapshotValue()`.
   */
  snapshot(): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
    return [new TextEncoder().encode(superjson.stringify(this.snapshotValue()))];
  }

  /**
   * Replace the whole state with a snapshot's bytes (what `snapshot()` produced, in order). The default decodes them
   * into `restoreValue()`.
   */
  async restore(chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    this.restoreValue(superjson.parse(Buffer.concat(parts).toString('utf8')));
  }

  /** For small states: the state as one value (superjson keeps Date, Map, Set, BigInt). */
  protected snapshotValue(): unknown {
    throw new SnapshotsUnsupportedError(this.constructor.name);
  }

  /** For small states: replace the state with a value `snapshotValue()` returned. */
  protected restoreValue(_value: unknown): void {
    throw new SnapshotsUnsupportedError(this.constructor.name);
  }

  receive(message: StateMachineMessage): void {
    switch (message.type) {
      case 'Apply':
        return this.onApply(message);
      case 'TakeSnapshot':
      case 'BeginRestore':
        this.#queue.push(message);
        if (!this.#busy) this.#drain();
        return;
      case 'NextSnapshotChunk':
        this.#nextChunk?.();
        return;
      case 'RestoreSnapshotChunk': {
        const restoring = this.#restoreChannel;
        if (restoring === null || restoring.meta.index !== message.meta.index) return;
        restoring.chunk = message.chunk;
        restoring.channel.push(message.data, message.done);
        return;
      }
    }
  }

  /** @internal The node supplies how entry data decodes into commands (superjson, then the command schema). */
  useDecoder(decoder: CommandDecoder<Command>): void {
    this.#decoder = decoder;
  }

  protected onApply(message: Apply): void {
    this.#queue.push(message);
    if (!this.#busy) this.#drain();
  }

  /** Apply queued entries in order; synchronous applies run in one go, an asynchronous one resumes when it settles. */
  #drain(): void {
    while (this.#queue.length > 0) {
      const work = this.#queue[0]!;
      if (work.type !== 'Apply' && this.#streaming !== null) {
        // A restore (or another snapshot) waits until a captured snapshot has streamed out.
        this.#busy = true;
        void this.#streaming.then(() => {
          this.#busy = false;
          if (this.attached) this.#drain();
        });
        return;
      }
      if (work.type === 'TakeSnapshot' && this.snapshotCapturesState) {
        // #streamSnapshot calls snapshot() before its first await: the state is captured once this returns.
        this.#streaming = this.#streamSnapshot(work).finally(() => (this.#streaming = null));
        this.#queue.shift();
        continue;
      }
      if (work.type !== 'Apply') {
        this.#busy = true;
        const job = work.type === 'TakeSnapshot' ? this.#streamSnapshot(work) : this.#runRestore(work.meta);
        void job.then(() => {
          this.#queue.shift();
          this.#busy = false;
          if (this.attached) this.#drain();
        });
        return;
      }
      const batch = work;
      while (this.#cursor < batch.entries.length) {
        const entry = batch.entries[this.#cursor++]!;
        const proposalId = batch.proposals.get(entry.index);
        if (entry.kind !== 'command') {
          // A membership change proposed here: applied means done.
          if (proposalId !== undefined) this.#results.push({ proposalId, index: entry.index, outcome: { ok: true, value: undefined as Result } });
          continue;
        }
        const session = entry.session === undefined ? undefined : this.#admitSession(entry.session);
        if (session !== undefined && session.answer !== undefined) {
          // A retry of a request this session already made, or a registration: answered without applying.
          if (proposalId !== undefined) this.#results.push({ proposalId, index: entry.index, outcome: session.answer });
          continue;
        }
        const record = session?.record;
        let command: Command;
        try {
          command = this.#decode(entry);
        } catch (error) {
          this.#settle(entry, proposalId, record, { ok: false, error: new CommandDecodeError(entry.index, error instanceof Error ? error.message : String(error)) });
          continue;
        }
        let result: Result | Promise<Result>;
        try {
          result = this.apply(command, { index: entry.index, term: entry.term });
        } catch (error) {
          this.#settle(entry, proposalId, record, { ok: false, error: error as AppError });
          continue;
        }
        if (isPromiseLike(result)) {
          this.#busy = true;
          result.then(
            (value) => this.#settle(entry, proposalId, record, { ok: true, value }),
            (error: unknown) => this.#settle(entry, proposalId, record, { ok: false, error: error as AppError }),
          ).then(() => {
            this.#busy = false;
            if (this.attached) this.#drain();
          });
          return;
        }
        this.#settle(entry, proposalId, record, { ok: true, value: result });
      }
      this.#queue.shift();
      this.#cursor = 0;
      const last = batch.entries[batch.entries.length - 1];
      if (last !== undefined) {
        const results = this.#results;
        this.#results = [];
        this.reply({ type: 'Applied', index: last.index, results });
      }
    }
  }

  /** Record an applied command's outcome: in its session (for retries), and for its proposer when proposed here. */
  #settle(entry: Entry, proposalId: string | undefined, record: SessionRecord<Result, AppError> | undefined, outcome: ApplyOutcome<Result, AppError>): void {
    if (record !== undefined) record.responses.set(entry.session!.seq, outcome);
    if (proposalId !== undefined) this.#results.push({ proposalId, index: entry.index, outcome });
  }

  /** Produce the snapshot chunk by chunk: chunk 0 is the framework's own state (sessions), then the user's bytes. */
  async #streamSnapshot({ meta, chunkBytes }: TakeSnapshot): Promise<void> {
    try {
      // The expiry sweep's position is replicated state too: without it a restored node would expire sessions at
      // other entries than the rest of the cluster.
      const header = new TextEncoder().encode(
        superjson.stringify({ sessions: [...this.#sessions], clock: this.#sessionClock, lastExpiry: this.#lastExpiry }),
      );
      const chunks = rechunk(this.snapshot(), chunkBytes)[Symbol.asyncIterator]();
      let current: Uint8Array = header;
      let chunk = 0;
      for (;;) {
        // Read one ahead to know whether this chunk is the last.
        const following = await chunks.next();
        const done = following.done === true;
        const stored = done ? Promise.resolve() : new Promise<void>((resolve) => (this.#nextChunk = resolve));
        this.reply({ type: 'SnapshotChunkTaken', meta, chunk, data: current, done });
        if (done) break;
        await stored;
        if (!this.attached) return;
        current = following.value;
        chunk++;
      }
    } catch (error) {
      const unsupported = error instanceof SnapshotsUnsupportedError;
      this.reply({ type: 'SnapshotFailed', meta, message: error instanceof Error ? error.message : String(error), ...(unsupported ? { unsupported } : {}) });
    } finally {
      this.#nextChunk = null;
    }
  }

  async #runRestore(meta: SnapshotMeta): Promise<void> {
    const restoring = { meta, channel: new ChunkChannel(() => this.reply({ type: 'SnapshotChunkConsumed', meta, chunk: restoring.chunk })), chunk: 0 };
    this.#restoreChannel = restoring;
    try {
      const chunks = restoring.channel[Symbol.asyncIterator]();
      const header = await chunks.next();
      if (header.done === true) throw new Error(`snapshot ${meta.index} has no header chunk`);
      const framework = superjson.parse<{ sessions: [string, SessionRecord<Result, AppError>][]; clock: number; lastExpiry: number }>(
        Buffer.from(header.value).toString('utf8'),
      );
      this.#sessions.clear();
      for (const [client, record] of framework.sessions) this.#sessions.set(client, record);
      this.#sessionClock = framework.clock;
      this.#lastExpiry = framework.lastExpiry;
      await this.restore({ [Symbol.asyncIterator]: () => chunks });
      // A restore that stopped reading early still consumes the rest, so the node's transfer completes.
      while (!restoring.channel.drained) await chunks.next();
      this.reply({ type: 'SnapshotRestored', meta });
    } catch (error) {
      // The state is now unknown: the node must not go on applying on top of it (it stops on this reply).
      this.reply({ type: 'SnapshotFailed', meta, message: `restore failed: ${error instanceof Error ? error.message : String(error)}` });
    } finally {
      this.#restoreChannel = null;
    }
  }

  /**
   * Decide what a session-tagged entry means: register the session (seq 0), answer a duplicate from the remembered
   * outcome, refuse an unknown session, or let it apply and remember the outcome (`record`).
   */
  #admitSession(tag: SessionTag): { answer?: ApplyOutcome<Result, AppError>; record?: SessionRecord<Result, AppError> } {
    this.#sessionClock = Math.max(this.#sessionClock, tag.at);
    this.#expireSessions();
    let record = this.#sessions.get(tag.client);
    if (tag.seq === 0) {
      if (record === undefined) this.#sessions.set(tag.client, (record = { responses: new Map(), lastActive: tag.at, ackedBelow: 0 }));
      record.lastActive = Math.max(record.lastActive, tag.at);
      return { answer: { ok: true, value: undefined as Result } };
    }
    if (record === undefined) return { answer: { ok: false, error: new SessionExpiredError(tag.client) } };
    record.lastActive = Math.max(record.lastActive, tag.at);
    record.ackedBelow = Math.max(record.ackedBelow ?? 0, tag.ack); // ?? 0: a record from a snapshot taken before the field existed
    for (const seq of record.responses.keys()) if (seq < record.ackedBelow) record.responses.delete(seq);
    const remembered = record.responses.get(tag.seq);
    if (remembered !== undefined) return { answer: remembered };
    // Below the acknowledged mark and forgotten: the client already has its answer (or gave up); never apply it again.
    if (tag.seq < record.ackedBelow) return { answer: { ok: false, error: new SessionExpiredError(tag.client) } };
    return { record };
  }

  #expireSessions(): void {
    // Sweeping costs O(sessions); doing it once per tenth of a time-to-live keeps it cheap and still deterministic.
    if (this.#sessionClock - this.#lastExpiry < this.sessionTimeToLiveMs / 10) return;
    this.#lastExpiry = this.#sessionClock;
    for (const [client, record] of this.#sessions) {
      if (record.lastActive < this.#sessionClock - this.sessionTimeToLiveMs) this.#sessions.delete(client);
    }
  }

  /** Number of live client sessions in the replicated state. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  #decode(entry: Entry): Command {
    if (this.#decoder === null) throw new Error('the state machine has no command decoder: it is not attached to a node');
    return this.#decoder(entry);
  }
}

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
