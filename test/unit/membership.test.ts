/** membership.ts: single-server changes, learners, and the JSON form of a configuration. */
import { describe, expect, it } from 'vitest';
import { applyChange, decodeMembership, encodeMembership, isMember, MembershipError, type Membership } from '../../src/core/membership.js';

const three: Membership = { voters: ['a', 'b', 'c'], learners: [] };

function codeOf(change: () => unknown): string {
  try {
    change();
  } catch (error) {
    if (error instanceof MembershipError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('applyChange', () => {
  it('adds a learner that receives the log but does not vote', () => {
    const next = applyChange(three, { type: 'addLearner', id: 'd' });
    expect(next).toEqual({ voters: ['a', 'b', 'c'], learners: ['d'] });
    expect(isMember(next, 'd')).toBe(true);
  });

  it('promotes a learner to voter, and only a learner', () => {
    const withLearner = applyChange(three, { type: 'addLearner', id: 'd' });
    expect(applyChange(withLearner, { type: 'promote', id: 'd' })).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    expect(codeOf(() => applyChange(three, { type: 'promote', id: 'a' }))).toBe('NOT_A_LEARNER');
  });

  it('adds a voter directly, taking it out of the learners', () => {
    const withLearner = applyChange(three, { type: 'addLearner', id: 'd' });
    expect(applyChange(withLearner, { type: 'addVoter', id: 'd' })).toEqual({ voters: ['a', 'b', 'c', 'd'], learners: [] });
    expect(codeOf(() => applyChange(three, { type: 'addVoter', id: 'b' }))).toBe('ALREADY_MEMBER');
  });

  it('removes voters and learners, but never the last voter', () => {
    expect(applyChange(three, { type: 'remove', id: 'b' })).toEqual({ voters: ['a', 'c'], learners: [] });
    expect(codeOf(() => applyChange({ voters: ['a'], learners: ['l'] }, { type: 'remove', id: 'a' }))).toBe('LAST_VOTER');
    expect(applyChange({ voters: ['a'], learners: ['l'] }, { type: 'remove', id: 'l' })).toEqual({ voters: ['a'], learners: [] });
    expect(codeOf(() => applyChange(three, { type: 'remove', id: 'z' }))).toBe('NOT_A_MEMBER');
  });

  it('refuses to add a member twice', () => {
    expect(codeOf(() => applyChange(three, { type: 'addLearner', id: 'a' }))).toBe('ALREADY_MEMBER');
  });

  it('changes one voter at a time, so consecutive configurations share a majority', () => {
    // Every change either adds or removes at most one voter.
    let current = three;
    const steps = [
      { type: 'addLearner', id: 'd' },
      { type: 'promote', id: 'd' },
      { type: 'remove', id: 'a' },
      { type: 'remove', id: 'b' },
    ] as const;
    for (const change of steps) {
      const next = applyChange(current, change);
      const added = next.voters.filter((id) => !current.voters.includes(id)).length;
      const removed = current.voters.filter((id) => !next.voters.includes(id)).length;
      expect(added + removed).toBeLessThanOrEqual(1);
      current = next;
    }
    expect(current).toEqual({ voters: ['c', 'd'], learners: [] });
  });
});

describe('encodeMembership / decodeMembership', () => {
  it('round-trips a configuration as plain JSON', () => {
    const membership = { voters: ['a', 'b'], learners: ['c'] };
    expect(decodeMembership(encodeMembership(membership))).toEqual(membership);
    expect(JSON.parse(encodeMembership(membership))).toEqual(membership);
  });

  it('refuses data that is not a configuration', () => {
    expect(() => decodeMembership('{"voters":["a"]}')).toThrow(/not a membership/);
    expect(() => decodeMembership('{"voters":[1],"learners":[]}')).toThrow(/not a membership/);
    expect(() => decodeMembership('null')).toThrow(/not a membership/);
  });
});

describe('addresses in the configuration', () => {
  const base = { voters: ['n1', 'n2'], learners: [], addresses: { n1: 'h1:1', n2: 'h2:1' } };

  it('travel with every change: a learner added with its address, kept through promotion, dropped with its removal', () => {
    const added = applyChange(base, { type: 'addLearner', id: 'n3', address: 'h3:1' });
    expect(added.addresses).toEqual({ n1: 'h1:1', n2: 'h2:1', n3: 'h3:1' });
    const promoted = applyChange(added, { type: 'promote', id: 'n3' });
    expect(promoted.addresses).toEqual(added.addresses);
    expect(applyChange(promoted, { type: 'remove', id: 'n1' }).addresses).toEqual({ n2: 'h2:1', n3: 'h3:1' });
  });

  it('refuse an address another member has', () => {
    expect(() => applyChange(base, { type: 'addLearner', id: 'n3', address: 'h2:1' })).toThrow(/address h2:1 is taken by n2/);
  });

  it('survive encoding, and a configuration entry whose addresses are not strings does not decode', () => {
    const added = applyChange(base, { type: 'addLearner', id: 'n3', address: 'h3:1' });
    expect(decodeMembership(encodeMembership(added))).toEqual(added);
    expect(decodeMembership(encodeMembership({ voters: ['n1'], learners: [] }))).toEqual({ voters: ['n1'], learners: [] });
    expect(() => decodeMembership('{"voters":["n1"],"learners":[],"addresses":{"n1":7}}')).toThrow(/addresses/);
  });
});
