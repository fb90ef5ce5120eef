/**
 * A log store that passes everything to another store and knows which requests are still unanswered, so that a
 * test cluster can tell "the store is still working" from "nothing is pending". It adds no delay of its own.
 */
import {
  LogStore,
  type CompactLog,
  type Load,
  type LogStoreReply,
  type ReadSnapshotChunk,
  type SaveLog,
  type WriteSnapshotChunk,
} from '../../src/index.js';

export class ObservedLogStore<Inner extends LogStore = LogStore> extends LogStore {
  private loading = false;
  /** Invariant: acknowledgedWriteId <= sentWriteId; equal when every SaveLog is durable. */
  private sentWriteId = 0;
  private acknowledgedWriteId = 0;
  private chunkWrites = 0;
  private chunkReads = 0;
  private storeFailed = false;

  constructor(readonly inner: Inner) {
    super();
  }

  /** What the store has been asked and not answered yet; null when nothing (or when it has failed). */
  pendingWork(): string | null {
    if (this.storeFailed || !this.attached) return null;
    const pending: string[] = [];
    if (this.loading) pending.push('loading');
    if (this.acknowledgedWriteId < this.sentWriteId) pending.push(`writes ${this.acknowledgedWriteId + 1}..${this.sentWriteId} not durable`);
    if (this.chunkWrites > 0) pending.push(`${this.chunkWrites} snapshot chunk writes`);
    if (this.chunkReads > 0) pending.push(`${this.chunkReads} snapshot chunk reads`);
    return pending.length === 0 ? null : pending.join(', ');
  }

  protected override onStart(): void {
    this.inner.attach((reply) => this.answer(reply));
  }

  protected override onStop(): void {
    this.inner.detach();
  }

  protected onLoad(message: Load): void {
    this.loading = true;
    this.inner.receive(message);
  }

  protected onSaveLog(message: SaveLog): void {
    this.sentWriteId = Math.max(this.sentWriteId, message.writeId);
    this.inner.receive(message);
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    this.chunkWrites++;
    this.inner.receive(message);
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    this.chunkReads++;
    this.inner.receive(message);
  }

  protected override onCompactLog(message: CompactLog): void {
    this.inner.receive(message);
  }

  private answer(reply: LogStoreReply): void {
    switch (reply.type) {
      case 'Loaded':
        this.loading = false;
        break;
      case 'LogSaved':
        this.acknowledgedWriteId = Math.max(this.acknowledgedWriteId, reply.writeId);
        break;
      case 'SnapshotChunkStored':
        this.chunkWrites--;
        break;
      case 'SnapshotChunkLoaded':
        this.chunkReads--;
        break;
      case 'StoreFailed':
        this.storeFailed = true;
        break;
    }
    this.reply(reply);
  }
}
