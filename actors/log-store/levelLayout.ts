/**
 * How a `LevelLogStore` lays its state out in the database: the sublevels and keys, the records they hold and what
 * a record must look like to be accepted when read back (a record that does not is corruption, see levelRecovery.ts).
 * The byte encodings (checksums, entry and chunk keys) are levelCodec.ts.
 */
import type { AbstractBatchOptions, AbstractLevel } from 'abstract-level';
import type { HardState, NodeId, SnapshotMeta } from '../../src/core/index.js';
import type { KeySpace } from './levelKeySpace.js';

/** Any abstract-level database whose keys and values the store may write as bytes. */
export type LevelDatabase = AbstractLevel<string | Buffer | Uint8Array, string, string>;

export type Bytes = Buffer;

/**
 * One sublevel per concern, all written together in one atomic batch. Each is a key space (levelKeySpace.ts): the
 * keys of the sublevel of that name, without a sublevel object.
 */
export interface StoreSublevels {
  /** `identity`: `{ clusterId, nodeId }`. */
  readonly meta: KeySpace;
  /** `state`: the hard state. */
  readonly hard: KeySpace;
  /** `voters`: the voters the store was created with. */
  readonly membership: KeySpace;
  /** `meta`: the current snapshot; and, for a store without a snapshot directory, its chunks. */
  readonly snapshot: KeySpace;
  /** The log as runs of entries, one per `SaveLog`, keyed by first and last index (levelCodec.ts). */
  readonly entries: KeySpace;
}

export const IDENTITY_KEY = Buffer.from('identity');
export const HARD_STATE_KEY = Buffer.from('state');
export const VOTERS_KEY = Buffer.from('voters');
export const SNAPSHOT_META_KEY = Buffer.from('meta');
export const ZERO_HARD_STATE: HardState = { term: 0, votedFor: null, commit: 0 };

/** classic-level's `sync`: fsync before the write resolves. Other abstract-level implementations ignore it. */
export const syncWrite: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { sync: true };
export const unsyncedWrite: AbstractBatchOptions<Bytes, Bytes> & { readonly sync: boolean } = { sync: false };

/** The current snapshot, as `snapshot/meta` records it. Invariant: chunks `0 .. chunks - 1` of `generation` exist. */
export interface CurrentSnapshot {
  readonly meta: SnapshotMeta;
  readonly generation: number;
  readonly chunks: number;
}

/** A snapshot being written (in memory only: a restart forgets it). Invariant: chunks `0 .. nextChunk - 1` exist. */
export interface PendingSnapshot {
  readonly meta: SnapshotMeta;
  readonly generation: number;
  readonly nextChunk: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function acceptHardState(value: unknown): HardState | null {
  if (!isRecord(value) || !isCount(value.term) || !isCount(value.commit)) return null;
  if (value.votedFor !== null && typeof value.votedFor !== 'string') return null;
  return { term: value.term, votedFor: value.votedFor, commit: value.commit };
}

export function acceptSnapshotMeta(value: unknown): SnapshotMeta | null {
  if (!isRecord(value) || !isCount(value.index) || !isCount(value.term)) return null;
  const names = (list: unknown): list is string[] => Array.isArray(list) && list.every((name) => typeof name === 'string');
  if (!names(value.voters) || !names(value.learners)) return null;
  return { index: value.index, term: value.term, voters: value.voters, learners: value.learners };
}

export function acceptCurrentSnapshot(value: unknown): CurrentSnapshot | null {
  if (!isRecord(value) || !isCount(value.generation) || value.generation < 1 || !isCount(value.chunks) || value.chunks < 1) return null;
  const meta = acceptSnapshotMeta(value.meta);
  return meta === null ? null : { meta, generation: value.generation, chunks: value.chunks };
}

export function acceptIdentity(value: unknown): { clusterId: string; nodeId: string } | null {
  if (!isRecord(value) || typeof value.clusterId !== 'string' || typeof value.nodeId !== 'string') return null;
  return { clusterId: value.clusterId, nodeId: value.nodeId };
}

export function acceptVoters(value: unknown): { voters: readonly NodeId[] } | null {
  if (!isRecord(value) || !Array.isArray(value.voters) || !value.voters.every((voter) => typeof voter === 'string')) return null;
  return { voters: value.voters as NodeId[] };
}
