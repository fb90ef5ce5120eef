/**
 * Checking what a caller passes to `createRaftNode` before anything starts: the Raft timings and limits, and the
 * node's own options. A wrong value (a heartbeat slower than the election timeout, a window of 0, a negative
 * threshold) would otherwise surface as a cluster that never elects, never sends, or snapshots in a loop; here it is an
 * `InvalidConfigError` naming every wrong field.
 */
import { z } from 'zod';
import type { RaftConfig } from './core/index.js';
import { InvalidConfigError } from './errors.js';
import { summarizeIssues } from './wire.js';

const positive = z.number().int().min(1);
const count = z.number().int().min(0);

/** Every field of `RaftConfig`, optional (defaults fill the rest), checked field by field and against each other. */
const raftConfigSchema = z
  .strictObject({
    electionTimeoutMs: positive,
    heartbeatIntervalMs: positive,
    maxEntriesPerMessage: positive,
    maxBytesPerMessage: positive,
    promoteWithinEntries: count,
    snapshotThreshold: count,
    snapshotThresholdBytes: count,
    snapshotTrailingEntries: count,
    snapshotWindow: positive,
    maxInflightMessages: positive,
    maxInflightTailMessages: positive,
    preVote: z.boolean(),
    checkQuorum: z.boolean(),
    forwardToLeader: z.boolean(),
    commitHeartbeats: z.boolean(),
    leaseReads: z.boolean(),
    leaseClockDrift: z.number().min(0).lt(1),
    electionPriority: z.number().min(0.01).max(100),
  } satisfies { [Key in keyof RaftConfig]: z.ZodType<RaftConfig[Key]> })
  .partial();

const nodeOptionsSchema = z.object({
  id: z.string().min(1),
  members: z.array(z.string().min(1)).readonly().refine((members) => new Set(members).size === members.length, 'members must not repeat'),
  config: raftConfigSchema.optional(),
  maxPending: positive.optional(),
  maxCommandBytes: positive.optional(),
  operationTimeoutMs: positive.optional(),
  snapshotChunkBytes: positive.optional(),
  failFast: z.boolean().optional(),
  addresses: z.record(z.string().min(1), z.string().min(1)).optional(),
});

/** The options `createRaftNode` checks; the actors and the schema are checked by their types. */
export type CheckedNodeOptions = z.input<typeof nodeOptionsSchema>;

/**
 * Throw `InvalidConfigError` unless `options` are usable, `config` merged onto `defaults` (so that a heartbeat given
 * alone is compared with the default election timeout).
 */
export function checkNodeOptions(options: CheckedNodeOptions, defaults: RaftConfig): void {
  const result = nodeOptionsSchema.safeParse(options);
  if (!result.success) throw new InvalidConfigError(`invalid node options: ${summarizeIssues(result.error.issues, 5)}`);
  const { electionTimeoutMs, heartbeatIntervalMs } = { ...defaults, ...options.config };
  if (heartbeatIntervalMs >= electionTimeoutMs) {
    throw new InvalidConfigError(
      `invalid node options: config.heartbeatIntervalMs (${heartbeatIntervalMs}) must be below config.electionTimeoutMs (${electionTimeoutMs}), or followers time out between heartbeats`,
    );
  }
}
