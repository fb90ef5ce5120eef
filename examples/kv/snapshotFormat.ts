/**
 * The bytes of a KV store snapshot: its keys and values as length-prefixed UTF-8, written and read piece by piece.
 *
 * ```
 * 1 byte   format (1)
 * then, per key:
 * 4 bytes  k, the key's UTF-8 byte length, big-endian
 * k bytes  the key
 * 4 bytes  v, the value's UTF-8 byte length, big-endian
 * v bytes  the value
 * ```
 *
 * Why not the framework's default (superjson text of the whole Map): with 100,000 keys that is one 12 MB string built
 * in one synchronous step, and superjson walks every entry to annotate it; the node stalled for hundreds of ms and
 * the garbage collector after it. Here each piece is one buffer filled by native UTF-8 writes, so the work is
 * proportional to the bytes and comes in steps of `pieceBytes`. No checksum: the log store checksums every chunk.
 * A snapshot taken before this format (superjson text) begins with `{` and is still read (see KvStore.restore).
 */

export const FORMAT = 1;
const LENGTH_BYTES = 4;
/** UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 bytes for 2 units). */
const MAX_UTF8_PER_UNIT = 3;

/** The snapshot of `keys[i]` = `values[i]` in pieces of about `pieceBytes` (larger when one key and value need more). */
export function* encodeSnapshot(keys: readonly string[], values: readonly string[], pieceBytes = 256 * 1024): Generator<Uint8Array> {
  let piece = Buffer.allocUnsafe(pieceBytes);
  piece[0] = FORMAT;
  let at = 1;
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index]!;
    const value = values[index]!;
    const worst = 2 * LENGTH_BYTES + MAX_UTF8_PER_UNIT * (key.length + value.length);
    if (at + worst > piece.length) {
      yield piece.subarray(0, at);
      piece = Buffer.allocUnsafe(Math.max(pieceBytes, worst));
      at = 0;
    }
    at = writeString(piece, key, at);
    at = writeString(piece, value, at);
  }
  yield piece.subarray(0, at);
}

function writeString(piece: Buffer, text: string, at: number): number {
  const written = piece.write(text, at + LENGTH_BYTES, 'utf8');
  piece.writeUInt32BE(written, at);
  return at + LENGTH_BYTES + written;
}

/**
 * Read a snapshot in this format (another format byte is refused) and hand each key and value to `put`, chunk by
 * chunk: a record cut by a chunk boundary waits, copied, for the next chunk.
 */
export async function decodeSnapshot(chunks: AsyncIterable<Uint8Array>, put: (key: string, value: string) => void): Promise<void> {
  let carry: Buffer | null = null;
  let first = true;
  for await (const chunk of chunks) {
    let bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (carry !== null) bytes = Buffer.concat([carry, bytes]);
    let at = 0;
    if (first && bytes.length > 0) {
      if (bytes[0] !== FORMAT) throw new Error(`unknown KV snapshot format ${bytes[0]}`);
      at = 1;
      first = false;
    }
    for (;;) {
      const key = readString(bytes, at);
      if (key === null) break;
      const value = readString(bytes, key.end);
      if (value === null) break;
      put(key.text, value.text);
      at = value.end;
    }
    carry = at < bytes.length ? Buffer.from(bytes.subarray(at)) : null;
  }
  if (carry !== null) throw new Error(`KV snapshot ends inside a record (${carry.length} bytes left over)`);
}

function readString(bytes: Buffer, at: number): { text: string; end: number } | null {
  if (at + LENGTH_BYTES > bytes.length) return null;
  const end = at + LENGTH_BYTES + bytes.readUInt32BE(at);
  if (end > bytes.length) return null;
  return { text: bytes.toString('utf8', at + LENGTH_BYTES, end), end };
}
