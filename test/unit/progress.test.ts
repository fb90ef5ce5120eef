/** progress.ts: what a leader knows about one follower, in probe and replicate mode. */
import { describe, expect, it } from 'vitest';
import { Progress } from '../../src/core/progress.js';

describe('Progress', () => {
  it('probes with one message at a time until the follower answers', () => {
    const progress = new Progress(11);
    expect(progress.mode).toBe('probe');
    expect(progress.canSend(4)).toBe(true);
    progress.sent(10, 0);
    expect(progress.canSend(4)).toBe(false);
    expect(progress.nextIndex).toBe(11);
  });

  it('switches to replicate on the first acknowledgement, keeping matchIndex < nextIndex', () => {
    const progress = new Progress(11);
    progress.sent(10, 0);
    expect(progress.acknowledge(10)).toBe(true);
    expect([progress.mode, progress.matchIndex, progress.nextIndex]).toEqual(['replicate', 10, 11]);
  });

  it('streams optimistically in replicate mode within the in-flight window, freed by acknowledgements', () => {
    const progress = new Progress(1);
    progress.acknowledge(0);
    progress.sent(3, 3);
    progress.sent(6, 3);
    expect(progress.nextIndex).toBe(7);
    expect(progress.canSend(2)).toBe(false);
    expect(progress.acknowledge(3)).toBe(true);
    expect(progress.inflight).toEqual([6]);
    expect(progress.canSend(2)).toBe(true);
  });

  it('reports whether an acknowledgement advanced the match index (an old one does not)', () => {
    const progress = new Progress(1);
    progress.acknowledge(5);
    expect(progress.acknowledge(3)).toBe(false);
    expect(progress.matchIndex).toBe(5);
  });

  it('falls back to probing on a rejection in replicate mode, never below matchIndex + 1', () => {
    const progress = new Progress(1);
    progress.acknowledge(4);
    progress.sent(9, 5);
    expect(progress.reject(9, 2)).toBe(true);
    expect([progress.mode, progress.nextIndex, progress.inflight.length]).toEqual(['probe', 5, 0]);
  });

  it('ignores stale rejections', () => {
    const replicating = new Progress(1);
    replicating.acknowledge(6);
    expect(replicating.reject(5, 1)).toBe(false);
    expect(replicating.mode).toBe('replicate');

    const probing = new Progress(8);
    probing.sent(7, 0);
    expect(probing.reject(3, 1)).toBe(false);
    expect(probing.reject(7, 4)).toBe(true);
    expect([probing.nextIndex, probing.probeSent]).toEqual([4, false]);
  });
});
