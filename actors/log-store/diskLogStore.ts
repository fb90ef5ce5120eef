/**
 * The two log stores on disk, and which one a data directory holds: a `FileLogStore` writes `log`, a `LevelLogStore`
 * LevelDB's `CURRENT`. A node restarted on a directory must open the store that holds its votes and entries, whatever
 * the default of the day: opening the other would start an empty log beside them.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileLogStore } from './FileLogStore.js';
import { LOG_FILE } from './fileLogRecovery.js';
import { LevelLogStore } from './LevelLogStore.js';
import type { LevelLogStoreObserver, StoreIdentity } from './levelLogStoreOptions.js';

export type DiskLogStoreKind = 'file' | 'level';

/** The kind of store `directory` holds, or null when it holds none yet. */
export function storeKindIn(directory: string): DiskLogStoreKind | null {
  if (existsSync(join(directory, LOG_FILE))) return 'file';
  if (existsSync(join(directory, 'CURRENT'))) return 'level';
  return null;
}

/** Thrown when the store asked for is not the one the directory holds. */
export class StoreKindMismatchError extends Error {
  override readonly name = 'StoreKindMismatchError';
}

/**
 * A store on `location`: the kind it holds; for a new directory `asked`, else `fallback`. Throws
 * `StoreKindMismatchError` when `asked` names the other kind than the directory holds.
 */
export function openDiskLogStore(
  options: { readonly location: string; readonly identity: StoreIdentity; readonly observer?: LevelLogStoreObserver },
  asked: DiskLogStoreKind | undefined,
  fallback: DiskLogStoreKind,
): FileLogStore | LevelLogStore {
  const found = storeKindIn(options.location);
  if (found !== null && asked !== undefined && asked !== found) throw new StoreKindMismatchError(`${options.location} holds a ${found} log store, not a ${asked} one`);
  return (found ?? asked ?? fallback) === 'file' ? new FileLogStore(options) : new LevelLogStore(options);
}
