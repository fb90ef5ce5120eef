import { afterEach, describe, expect, it, vi } from 'vitest';
import { FixedTimeout } from '../../actors/timer/FailureDetector.js';
import { RealTimer } from '../../actors/timer/RealTimer.js';
import type { TimerReply } from '../../actors/timer/TimerActor.js';

describe('RealTimer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const started = (): { timer: RealTimer; fired: TimerReply['type'][] } => {
    const timer = new RealTimer({ failureDetector: new FixedTimeout() });
    const fired: TimerReply['type'][] = [];
    timer.attach((reply) => fired.push(reply.type));
    return { timer, fired };
  };

  it('fires once after its delay; re-arming later pushes it back, disarming stops it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'] });
    const { timer, fired } = started();
    timer.receive({ type: 'StartElectionTimer', afterMs: 100 });
    await vi.advanceTimersByTimeAsync(60);
    timer.receive({ type: 'StartElectionTimer', afterMs: 100 }); // now due at 160
    await vi.advanceTimersByTimeAsync(90);
    expect(fired).toEqual([]);
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toEqual(['ElectionTimeout']);
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 50 });
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 10 }); // sooner: replaces the later one
    await vi.advanceTimersByTimeAsync(11);
    expect(fired).toEqual(['ElectionTimeout', 'HeartbeatDue']);
    timer.receive({ type: 'StartHeartbeatTimer', afterMs: 10 });
    timer.receive({ type: 'CancelHeartbeatTimer' });
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(['ElectionTimeout', 'HeartbeatDue']);
    void timer.detach();
  });

  it('is driven by fake timers that leave performance.now alone', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    const { timer, fired } = started();
    timer.receive({ type: 'StartElectionTimer', afterMs: 300 });
    timer.receive({ type: 'StartElectionTimer', afterMs: 300 });
    await vi.runAllTimersAsync();
    expect(fired).toEqual(['ElectionTimeout']);
    void timer.detach();
  });
});
