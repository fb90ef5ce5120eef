import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TimerReply } from '../../actors/timer/TimerActor.js';
import { TimerWheel, WheelTimer } from '../../src/host/TimerWheel.js';

// The wheel's own clock is a variable moved with vitest's fake timers, so both agree on what time it is.
let now = 0;

beforeEach(() => {
  now = 0;
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate'] });
});
afterEach(() => vi.useRealTimers());

function started(tickMs = 5) {
  const wheel = new TimerWheel(tickMs, () => now);
  const timer = new WheelTimer(wheel);
  const fired: { type: TimerReply['type']; at: number }[] = [];
  timer.attach((reply) => fired.push({ type: reply.type, at: now }));
  const advance = (ms: number): void => {
    for (let step = 0; step < ms; step++) {
      now += 1;
      vi.advanceTimersByTime(1);
      // The wheel's timeout and the immediate it schedules; what is due is decided by `now`, not by the fake clock.
      vi.runOnlyPendingTimers();
    }
  };
  return { wheel, timer, fired, advance };
}

describe('WheelTimer', () => {
  it('a timer re-armed later (a follower hearing its leader) fires once, at the last deadline, never before', () => {
    const { timer, fired, advance } = started();
    timer.receive({ type: 'StartElectionTimer', afterMs: 100 });
    for (let at = 0; at < 10; at++) {
      advance(30);
      timer.receive({ type: 'StartElectionTimer', afterMs: 100 });
    }
    // Re-armed last at 300: due at 400, at most one tick late.
    advance(99);
    expect(fired).toEqual([]);
    advance(10);
    expect(fired).toEqual([{ type: 'ElectionTimeout', at: expect.any(Number) }]);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(400);
    expect(fired[0]!.at).toBeLessThanOrEqual(405);
    advance(500);
    expect(fired).toHaveLength(1);
  });

  it('a timer re-armed earlier fires at the earlier deadline, and not again at the later one', () => {
    const { timer, fired, advance } = started();
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 200 });
    advance(10);
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 40 });
    advance(50);
    expect(fired.map((reply) => reply.type)).toEqual(['HeartbeatDue']);
    expect(fired[0]!.at).toBeLessThanOrEqual(55);
    advance(300);
    expect(fired).toHaveLength(1);
  });

  it('a cancelled timer never fires, and the wheel holds nothing for it', () => {
    const { wheel, timer, fired, advance } = started();
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 50 });
    advance(20);
    timer.receive({ type: 'CancelHeartbeatTimer' });
    expect(wheel.size).toBe(0);
    advance(200);
    expect(fired).toEqual([]);
  });

  it('the election and heartbeat timers run independently', () => {
    const { timer, fired, advance } = started();
    timer.receive({ type: 'StartElectionTimer', afterMs: 100 });
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 30 });
    advance(40);
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 30 });
    advance(100);
    expect(fired.map((reply) => reply.type)).toEqual(['HeartbeatDue', 'HeartbeatDue', 'ElectionTimeout']);
  });

  it('a stopped timer leaves nothing in the wheel', () => {
    const { wheel, timer, fired, advance } = started();
    timer.receive({ type: 'StartElectionTimer', afterMs: 100 });
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 30 });
    void timer.detach();
    expect(wheel.size).toBe(0);
    advance(200);
    expect(fired).toEqual([]);
  });
});
