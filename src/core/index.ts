/**
 * xraft's pure Raft core: no I/O, no timers, no promises. Drive it with inputs, perform the effects it returns.
 */
export * from './types.js';
export { RaftCore, type RaftCoreOptions, type CoreStatus } from './raft.js';
export { RaftLog } from './log.js';
export { Progress, type ProgressMode } from './progress.js';
export { majority, committedIndex, voteResult, type VoteResult } from './quorum.js';
export { seededRandom } from './random.js';
export { applyChange, decodeMembership, encodeMembership, isMember, membershipOf, MembershipError, type Membership, type MembershipChange } from './membership.js';
