/**
 * A third-party-style log store: it subclasses `LogStore`, wraps another store, counts the messages it passes on and
 * holds every reply back for one turn of the event loop (a slower disk), keeping their order.
 */
import type { CompactLog, ReadSnapshotChunk, WriteSnapshotChunk } from '../../actors/log-store/LogStore.js';
import { LogStore, type Load, type LogStoreReply, type SaveLog } from '../../src/index.js';

export class CountingLogStore extends LogStore {
  loads = 0;
  writes = 0;
  entriesWritten = 0;
  snapshotChunksWritten = 0;
  snapshotChunksRead = 0;
  compactions = 0;
  acknowledgements = 0;
  private held: LogStoreReply[] = [];

  constructor(readonly inner: LogStore) {
    super();
  }

  protected override onStart(): void {
    this.inner.attach((reply) => this.hold(reply));
  }

  protected override onStop(): void {
    this.inner.detach();
  }

  protected onLoad(message: Load): void {
    this.loads++;
    this.inner.receive(message);
  }

  protected onSaveLog(message: SaveLog): void {
    this.writes++;
    this.entriesWritten += message.entries.length;
    this.inner.receive(message);
  }

  protected onWriteSnapshotChunk(message: WriteSnapshotChunk): void {
    this.snapshotChunksWritten++;
    this.inner.receive(message);
  }

  protected onReadSnapshotChunk(message: ReadSnapshotChunk): void {
    this.snapshotChunksRead++;
    this.inner.receive(message);
  }

  protected override onCompactLog(message: CompactLog): void {
    this.compactions++;
    this.inner.receive(message);
  }

  private hold(reply: LogStoreReply): void {
    this.held.push(reply);
    if (this.held.length > 1) return;
    setImmediate(() => {
      const replies = this.held;
      this.held = [];
      for (const held of replies) {
        if (held.type === 'LogSaved') this.acknowledgements++;
        this.reply(held);
      }
    });
  }
}
