/**
 * Cluster membership and single-server changes (Raft thesis 4.1, with the fix from its 2015 errata: a leader makes
 * a change only after it has committed an entry of its own term).
 *
 * A configuration lives in the log as a `config` entry and takes effect on a node as soon as the node appends it,
 * committed or not (paper section 6); a truncated configuration entry reverts the node to the previous one. At most
 * one change is uncommitted at a time, and each change adds or removes a single voter, so any two consecutive
 * configurations share a majority and no two leaders can be elected for one term.
 *
 * Learners receive the log but never vote, campaign or count in a quorum.
 *
 * A configuration may carry its members' network addresses: they travel with it through the log and snapshots, so
 * that every node (one that starts later and replays the log included) learns where its peers are from the log.
 */
import type { NodeId } from './types.js';

export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Where members can be reached (host:port, or whatever the transport understands), for those that said. */
  readonly addresses?: Readonly<Record<NodeId, string>>;
}

export type MembershipChange =
  | { readonly type: 'addLearner'; readonly id: NodeId; readonly address?: string }
  | { readonly type: 'promote'; readonly id: NodeId }
  | { readonly type: 'addVoter'; readonly id: NodeId; readonly address?: string }
  | { readonly type: 'remove'; readonly id: NodeId };

export class MembershipError extends Error {
  constructor(
    readonly code: 'ALREADY_MEMBER' | 'NOT_A_MEMBER' | 'NOT_A_LEARNER' | 'LAST_VOTER' | 'CHANGE_IN_PROGRESS' | 'ADDRESS_TAKEN',
    message: string,
  ) {
    super(message);
    this.name = 'MembershipError';
  }
}

/** The configuration after `change`, or a MembershipError explaining why the change makes no sense. */
export function applyChange(current: Membership, change: MembershipChange): Membership {
  const isVoter = current.voters.includes(change.id);
  const isLearner = current.learners.includes(change.id);
  switch (change.type) {
    case 'addLearner':
      if (isVoter || isLearner) throw new MembershipError('ALREADY_MEMBER', `${change.id} is already a member`);
      return withAddresses({ voters: current.voters, learners: [...current.learners, change.id] }, addressed(current, change.id, change.address));
    case 'addVoter':
      if (isVoter) throw new MembershipError('ALREADY_MEMBER', `${change.id} is already a voter`);
      return withAddresses(
        { voters: [...current.voters, change.id], learners: current.learners.filter((id) => id !== change.id) },
        addressed(current, change.id, change.address),
      );
    case 'promote':
      if (!isLearner) throw new MembershipError('NOT_A_LEARNER', `${change.id} is not a learner`);
      return withAddresses({ voters: [...current.voters, change.id], learners: current.learners.filter((id) => id !== change.id) }, current.addresses);
    case 'remove': {
      if (!isVoter && !isLearner) throw new MembershipError('NOT_A_MEMBER', `${change.id} is not a member`);
      if (isVoter && current.voters.length === 1) {
        throw new MembershipError('LAST_VOTER', `${change.id} is the last voter; a cluster needs at least one`);
      }
      const { [change.id]: _gone, ...addresses } = current.addresses ?? {};
      return withAddresses({ voters: current.voters.filter((id) => id !== change.id), learners: current.learners.filter((id) => id !== change.id) }, addresses);
    }
  }
}

/** The addresses of `current` with `id` at `address` (when given); an address another member has is refused. */
function addressed(current: Membership, id: NodeId, address: string | undefined): Readonly<Record<NodeId, string>> | undefined {
  if (address === undefined) return current.addresses;
  const holder = Object.entries(current.addresses ?? {}).find(([member, at]) => at === address && member !== id);
  if (holder !== undefined) throw new MembershipError('ADDRESS_TAKEN', `address ${address} is taken by ${holder[0]}`);
  return { ...current.addresses, [id]: address };
}

function withAddresses(membership: Membership, addresses: Readonly<Record<NodeId, string>> | undefined): Membership {
  return addresses === undefined || Object.keys(addresses).length === 0 ? membership : { ...membership, addresses };
}

/** The configuration a snapshot records. */
export function membershipOf(meta: Membership): Membership {
  const { voters, learners, addresses } = meta;
  return addresses === undefined ? { voters, learners } : { voters, learners, addresses };
}

export function isMember(membership: Membership, id: NodeId): boolean {
  return membership.voters.includes(id) || membership.learners.includes(id);
}

/** The data of a `config` entry: plain JSON (never user data, so no superjson). */
export function encodeMembership(membership: Membership): string {
  const { voters, learners, addresses } = membership;
  return JSON.stringify(addresses === undefined ? { voters, learners } : { voters, learners, addresses });
}

export function decodeMembership(data: string): Membership {
  const value: unknown = JSON.parse(data);
  if (
    typeof value !== 'object' ||
    value === null ||
    !Array.isArray((value as Membership).voters) ||
    !Array.isArray((value as Membership).learners) ||
    ![...(value as Membership).voters, ...(value as Membership).learners].every((id) => typeof id === 'string')
  ) {
    throw new Error(`not a membership: ${data.slice(0, 200)}`);
  }
  const { voters, learners, addresses } = value as Membership;
  if (addresses === undefined) return { voters: [...voters], learners: [...learners] };
  if (typeof addresses !== 'object' || addresses === null || Array.isArray(addresses) || !Object.values(addresses).every((at) => typeof at === 'string')) {
    throw new Error(`not a membership (addresses): ${data.slice(0, 200)}`);
  }
  return { voters: [...voters], learners: [...learners], addresses: { ...addresses } };
}
