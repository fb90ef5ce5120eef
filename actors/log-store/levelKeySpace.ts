/**
 * A part of a database's keys, under one prefix: what a sublevel holds, read and cleared through the root database
 * with keys and values as bytes.
 *
 * The prefixes are abstract-level's sublevel prefixes (`!name!`, nested), so a key space holds exactly the keys of the
 * sublevel with the same path, and the layout on disk is unchanged. The reason not to use sublevels: a sublevel is a
 * whole database object (hooks, a transcoder, a deferred-open queue, event emitters, its own open state), about
 * 4.5 KiB of heap, and a store uses six of them. With thousands of Raft groups in one process (SharedLevelLogStores)
 * that was half of each group's heap. A key space is a Buffer and a few methods.
 */
import type { AbstractIteratorOptions, AbstractKeyIteratorOptions } from 'abstract-level';
import { RAW_KEYS } from './levelBatch.js';
import type { Bytes, LevelDatabase } from './levelLayout.js';

const EMPTY: Bytes = Buffer.alloc(0);
/** abstract-level's default separator, and the byte after it that bounds a sublevel's keys from above. */
const SEPARATOR = '!';
const RESERVED = SEPARATOR.charCodeAt(0) + 1;

/** Bounds of a range within a key space, keys as the space sees them (without its prefix). */
export interface KeyRange {
  readonly gt?: Bytes;
  readonly gte?: Bytes;
  readonly lt?: Bytes;
  readonly lte?: Bytes;
}

/** A page-at-a-time reader of `[key, value]` pairs, keys without the space's prefix. */
export interface KeySpaceIterator {
  nextv(size: number): Promise<[Bytes, Bytes][]>;
  close(): Promise<void>;
}

export class KeySpace {
  /** The first key after every key of the space: its prefix with the last byte (a separator) raised by one. */
  private readonly end: Bytes | undefined;

  /** `db` must be a root database (not a sublevel); `prefix` is every key's start, as bytes of `db`. */
  private constructor(
    readonly db: LevelDatabase,
    readonly prefix: Bytes,
  ) {
    this.end = prefix.length === 0 ? undefined : Buffer.concat([prefix.subarray(0, -1), Buffer.of(prefix[prefix.length - 1]! + 1)]);
  }

  /** The keys of `db`, which may be a sublevel: the space of its root database under the sublevel's prefix. */
  static of(db: LevelDatabase): KeySpace {
    // A sublevel has a prefix and names its root database `db`; a root database has neither.
    const sublevel = db as unknown as { readonly prefix?: string; readonly db?: LevelDatabase };
    if (sublevel.prefix === undefined || sublevel.db === undefined) return new KeySpace(db, EMPTY);
    return new KeySpace(sublevel.db, Buffer.from(db.prefixKey(EMPTY, 'buffer', false)));
  }

  /** The space a sublevel `name` of this one would have. Throws RangeError for a name a sublevel refuses. */
  within(name: string): KeySpace {
    const bytes = Buffer.from(name, 'utf8');
    if (bytes.length === 0 || !bytes.every((byte) => byte > RESERVED && byte < 127)) throw new RangeError(`a key space name uses bytes ${RESERVED + 1} to 126, not ${JSON.stringify(name)}`);
    return new KeySpace(this.db, Buffer.concat([this.prefix, Buffer.from(`${SEPARATOR}${name}${SEPARATOR}`, 'latin1')]));
  }

  /** `key` of this space as a key of the root database. */
  key(key: Bytes): Bytes {
    return Buffer.concat([this.prefix, key]);
  }

  /** The prefix as seen from `target`, the root or a sublevel of it that holds this space. Throws RangeError otherwise. */
  prefixWithin(target: LevelDatabase): Bytes {
    const outer = KeySpace.of(target);
    if (outer.db !== this.db || !this.prefix.subarray(0, outer.prefix.length).equals(outer.prefix)) {
      throw new RangeError(`the keys under ${this.prefix.toString('latin1')} are not inside the database the batches go to (prefix ${outer.prefix.toString('latin1')})`);
    }
    return this.prefix.subarray(outer.prefix.length);
  }

  get(key: Bytes): Promise<Bytes | undefined> {
    return this.db.get<Bytes, Bytes>(this.key(key), RAW_KEYS);
  }

  /** The keys in `range` (all of them without one), in order, without the prefix. */
  async keys(range: KeyRange & { readonly reverse?: boolean; readonly limit?: number } = {}): Promise<Bytes[]> {
    const options: AbstractKeyIteratorOptions<Bytes> = { ...this.bounds(range), keyEncoding: 'buffer' };
    if (range.reverse !== undefined) options.reverse = range.reverse;
    if (range.limit !== undefined) options.limit = range.limit;
    const keys = await this.db.keys<Bytes>(options).all();
    return keys.map((key) => key.subarray(this.prefix.length));
  }

  iterator(range: KeyRange = {}): KeySpaceIterator {
    const options: AbstractIteratorOptions<Bytes, Bytes> = { ...this.bounds(range), ...RAW_KEYS };
    const iterator = this.db.iterator<Bytes, Bytes>(options);
    const strip = this.prefix.length;
    return {
      nextv: async (size) => (await iterator.nextv(size)).map(([key, value]): [Bytes, Bytes] => [key.subarray(strip), value]),
      close: () => iterator.close(),
    };
  }

  /** Delete the keys in `range` (all of them without one), on the database's own thread. */
  clear(range: KeyRange = {}): Promise<void> {
    return this.db.clear<Bytes>({ ...this.bounds(range), keyEncoding: 'buffer' });
  }

  private bounds(range: KeyRange): KeyRange {
    const bounds: { gt?: Bytes; gte?: Bytes; lt?: Bytes; lte?: Bytes } = {};
    if (range.gte !== undefined) bounds.gte = this.key(range.gte);
    else if (range.gt !== undefined) bounds.gt = this.key(range.gt);
    else bounds.gte = this.prefix;
    if (range.lte !== undefined) bounds.lte = this.key(range.lte);
    else if (range.lt !== undefined) bounds.lt = this.key(range.lt);
    else if (this.end !== undefined) bounds.lt = this.end;
    return bounds;
  }
}
