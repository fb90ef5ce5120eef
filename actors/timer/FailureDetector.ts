/**
 * When a follower should stop believing in its leader. The timer actor consults one of these each time the core
 * re-arms the election timer after a message from the leader (`StartElectionTimer.leaderHeard`); for every other
 * arming (a candidate, a vote just granted) the core's own randomized timeout stands.
 *
 * - `FixedTimeout`: the core's timeout, T to 2T, whatever the leader's rhythm. Safe and slow.
 * - `PhiAccrualDetector` (Hayashibara et al., "The φ accrual failure detector", 2004; Akka and Cassandra use it,
 *   lolraft too): learns the distribution of the gaps between the leader's messages and suspects the leader once
 *   φ(t) = −log10(1 − F(t)) passes a threshold, F being a normal distribution fitted to the recent gaps. A leader on a
 *   quiet, steady link is suspected after a few heartbeat intervals; one whose messages come irregularly (a busy
 *   machine, a slow link) is given proportionally more time. No timeout has to be chosen before deployment.
 *
 * A detector never makes the timer fire later than the core's timeout, and the core spreads its timeouts at random:
 * the timer scales the detector's estimate by the same random factor, so followers that suspect the same leader do
 * not all campaign at once. Pre-vote keeps a follower that suspects too early from disturbing a live leader.
 */

export interface FailureDetector {
  /** A message from the current leader arrived at `now` (ms of the timer's clock). */
  heartbeat(now: number): void;
  /** The leader changed, or this node stopped following one: what was learned no longer applies. */
  reset(): void;
  /**
   * How long after `now` the leader should be suspected, given that it was last heard at `now`; `fallbackMs` is the
   * core's fixed timeout base T, used until the detector has learned enough.
   */
  suspectAfterMs(fallbackMs: number): number;
}

/** The core's timeout, unchanged. */
export class FixedTimeout implements FailureDetector {
  heartbeat(): void {}
  reset(): void {}
  suspectAfterMs(fallbackMs: number): number {
    return fallbackMs;
  }
}

export interface PhiAccrualOptions {
  /** φ at which the leader is suspected: 8 means a false suspicion about once in 10^8 heartbeats of the fitted rhythm. Default 8 (Akka's). */
  readonly threshold?: number;
  /** Gaps remembered. Default 100. */
  readonly windowSize?: number;
  /** Gaps needed before the estimate is used; until then the core's timeout stands. Default 5. */
  readonly minSamples?: number;
  /** Floor of the fitted standard deviation, so that a perfectly regular leader is not suspected on its first late beat. Default 25 ms. */
  readonly minStdDeviationMs?: number;
  /** Added to the mean: a pause the leader may take (a GC, a slow write) without being suspected. Default 150 ms. */
  readonly acceptablePauseMs?: number;
}

export class PhiAccrualDetector implements FailureDetector {
  private readonly gaps: number[] = [];
  private next = 0;
  private sum = 0;
  private sumOfSquares = 0;
  private last: number | null = null;
  private readonly windowSize: number;
  private readonly minSamples: number;
  private readonly minStdDeviationMs: number;
  private readonly acceptablePauseMs: number;
  /** z such that 1 − Φ(z) = 10^−threshold: the suspicion point, in standard deviations past the mean. */
  private readonly z: number;

  constructor(options: PhiAccrualOptions = {}) {
    const threshold = options.threshold ?? 8;
    if (!(threshold > 0)) throw new RangeError('the φ threshold must be positive');
    this.windowSize = Math.max(2, options.windowSize ?? 100);
    this.minSamples = Math.max(2, options.minSamples ?? 5);
    this.minStdDeviationMs = options.minStdDeviationMs ?? 25;
    this.acceptablePauseMs = options.acceptablePauseMs ?? 150;
    this.z = standardNormalQuantileOfTail(10 ** -threshold);
  }

  heartbeat(now: number): void {
    if (this.last !== null) {
      const gap = Math.max(0, now - this.last);
      if (this.gaps.length < this.windowSize) {
        this.gaps.push(gap);
      } else {
        const old = this.gaps[this.next]!;
        this.sum -= old;
        this.sumOfSquares -= old * old;
        this.gaps[this.next] = gap;
        this.next = (this.next + 1) % this.windowSize;
      }
      this.sum += gap;
      this.sumOfSquares += gap * gap;
    }
    this.last = now;
  }

  reset(): void {
    this.gaps.length = 0;
    this.next = 0;
    this.sum = 0;
    this.sumOfSquares = 0;
    this.last = null;
  }

  /** φ after `elapsedMs` without a message (for tests and observers); 0 until enough gaps are known. */
  phi(elapsedMs: number): number {
    if (this.gaps.length < this.minSamples) return 0;
    const { mean, deviation } = this.fit();
    const tail = standardNormalTail((elapsedMs - mean - this.acceptablePauseMs) / deviation);
    return -Math.log10(Math.max(tail, Number.MIN_VALUE));
  }

  suspectAfterMs(fallbackMs: number): number {
    if (this.gaps.length < this.minSamples) return fallbackMs;
    const { mean, deviation } = this.fit();
    return Math.min(fallbackMs, mean + this.acceptablePauseMs + this.z * deviation);
  }

  private fit(): { mean: number; deviation: number } {
    const count = this.gaps.length;
    const mean = this.sum / count;
    const variance = Math.max(0, this.sumOfSquares / count - mean * mean);
    return { mean, deviation: Math.max(this.minStdDeviationMs, Math.sqrt(variance)) };
  }
}

/**
 * 1 − Φ(x), the upper tail of the standard normal distribution, as erfc(x / √2) / 2 with Numerical Recipes' erfc
 * (relative error below 1.2e-7 everywhere, so it stays exact enough far in the tail, where φ lives).
 */
function standardNormalTail(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? erfc / 2 : 1 - erfc / 2;
}

/** The z whose upper tail is `tail` (by bisection: it runs once per detector). */
function standardNormalQuantileOfTail(tail: number): number {
  let low = -40;
  let high = 40;
  for (let i = 0; i < 200; i++) {
    const middle = (low + high) / 2;
    if (standardNormalTail(middle) > tail) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}
