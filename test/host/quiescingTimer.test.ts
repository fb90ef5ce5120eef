import { describe, expect, it } from 'vitest';
import { ManualTimer } from '../../actors/timer/ManualTimer.js';
import type { TimerReply } from '../../actors/timer/TimerActor.js';
import { QuiescingTimer } from '../../src/host/QuiescingTimer.js';

function attached(hooks: Partial<Parameters<QuiescingTimer['setHooks']>[0]> = {}) {
  const inner = new ManualTimer();
  const timer = new QuiescingTimer(inner);
  timer.setHooks({ heartbeatDue: () => false, electionDelay: () => 0, wokeByCore: () => undefined, ...hooks });
  const fired: TimerReply['type'][] = [];
  timer.attach((reply) => fired.push(reply.type));
  return { inner, timer, fired };
}

describe('QuiescingTimer', () => {
  it('a sleeping follower never times out, and once woken waits a full election timeout, not what was left', () => {
    const { inner, timer, fired } = attached();
    // The core asked for 1500 ms after hearing its leader (the detector's shorter estimate is dropped on waking).
    timer.receive({ type: 'StartElectionTimer', afterMs: 1500, baseMs: 1000, leaderHeard: true });
    inner.advance(1000);
    timer.sleep();
    inner.advance(10_000);
    expect(fired).toEqual([]);
    timer.wake();
    inner.advance(1499);
    expect(fired).toEqual([]);
    inner.advance(1);
    expect(fired).toEqual(['ElectionTimeout']);
  });

  it('a leader sleeps at a heartbeat when told to, and heartbeats one interval after waking', () => {
    let idle = true;
    const { inner, timer, fired } = attached({ heartbeatDue: () => idle });
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 100 });
    inner.advance(100);
    expect(timer.asleep).toBe(true);
    expect(fired).toEqual([]);
    idle = false;
    timer.wake();
    inner.advance(99);
    expect(fired).toEqual([]);
    inner.advance(1);
    expect(fired).toEqual(['HeartbeatDue']);
  });

  it('any timer request from the core wakes a sleeping group', () => {
    let woken = 0;
    const { timer } = attached({ wokeByCore: () => woken++ });
    timer.receive({ type: 'StartElectionTimer', afterMs: 1000 });
    timer.sleep();
    timer.receive({ type: 'StartElectionTimer', afterMs: 1200 });
    expect(timer.asleep).toBe(false);
    expect(woken).toBe(1);
  });

  it('holds back an election timeout while the host has enough campaigns under way', () => {
    let delay = 300;
    const { inner, timer, fired } = attached({ electionDelay: () => delay });
    timer.receive({ type: 'StartElectionTimer', afterMs: 1000 });
    inner.advance(1000);
    expect(fired).toEqual([]);
    delay = 0;
    inner.advance(300);
    expect(fired).toEqual(['ElectionTimeout']);
  });
});
