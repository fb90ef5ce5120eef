/**
 * Byte streams for snapshots: re-chunking what a state machine produces into bounded pieces, and a one-chunk channel
 * that feeds a restore from chunks arriving as messages. Memory stays bounded by a chunk or two either way.
 */

/** Yield the bytes of `source` in chunks of at most `maxBytes`, merging small pieces up to that size. */
export async function* rechunk(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, maxBytes: number): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let size = 0;
  const take = (): Uint8Array => {
    const out = concat(parts, size);
    parts = [];
    size = 0;
    return out;
  };
  for await (const piece of source) {
    let offset = 0;
    while (offset < piece.byteLength) {
      const room = maxBytes - size;
      const slice = piece.subarray(offset, offset + room);
      parts.push(slice);
      size += slice.byteLength;
      offset += slice.byteLength;
      if (size === maxBytes) yield take();
    }
  }
  if (size > 0) yield take();
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Chunks pushed one at a time by the node, pulled by a restore. `onTaken` fires when the consumer takes a chunk, so
 * that the node fetches the next one: at most one chunk waits here.
 */
export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private waiting: Uint8Array | null = null;
  private ended = false;
  private wake: (() => void) | null = null;

  constructor(private readonly onTaken: () => void) {}

  push(data: Uint8Array, last: boolean): void {
    this.waiting = data;
    if (last) this.ended = true;
    this.wake?.();
    this.wake = null;
  }

  /** Whether the last chunk was pushed and taken. */
  get drained(): boolean {
    return this.ended && this.waiting === null;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      if (this.waiting === null) {
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const data = this.waiting;
      this.waiting = null;
      this.onTaken();
      yield data;
    }
  }
}
