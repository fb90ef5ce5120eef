/**
 * The id of one Raft group of a multi-Raft host (docs/multiraft.md): the transport tags every message with it and the
 * shared log store keys every record with it, so both check it the same way.
 */
import { z } from 'zod';

/** The id of one Raft group on a host: 1 to 256 characters. */
export type GroupId = string;

/** Longest group id accepted (the same bound as node ids on the wire). */
export const MAX_GROUP_ID_LENGTH = 256;

export const groupIdSchema: z.ZodType<GroupId> = z.string().min(1).max(MAX_GROUP_ID_LENGTH);
