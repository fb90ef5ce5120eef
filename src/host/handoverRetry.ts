/**
 * Operations on a group whose leadership is being handed over. The host moves leaderships on its own (the leader
 * balancer), so its callers should not see the leader's refusal during a handover: a proposal or read that certainly
 * reached no log (`NotLeaderError`, outcome `not-appended`) while its node knew where leadership is going is tried
 * again, on the host's wheel, until its deadline. Safe: nothing was appended. A caller that asked to fail fast, or a
 * refusal without a leader in view, is answered as the node answered.
 */
import { NotLeaderError } from '../errors.js';

export interface RetryOptions {
  readonly timeoutMs?: number;
  readonly failFast?: boolean;
}

/** The default deadline of a node's operations (`operationTimeoutMs`). */
const DEFAULT_TIMEOUT_MS = 10_000;

/** The host's clock, and a pause on it (which ends early, so the attempt after it fails, when the host closes). */
export interface RetryClock {
  now(): number;
  pause(ms: number): Promise<void>;
}

export async function retryThroughHandover<T>(clock: RetryClock, pauseMs: number, options: RetryOptions | undefined, attempt: (options: RetryOptions) => Promise<T>): Promise<T> {
  const deadline = clock.now() + (options?.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  for (;;) {
    try {
      return await attempt({ ...options, timeoutMs: Math.max(1, Math.round(deadline - clock.now())) });
    } catch (error) {
      const handover = error instanceof NotLeaderError && error.outcome === 'not-appended' && error.leaderHint !== null;
      if (!handover || options?.failFast === true || clock.now() + pauseMs >= deadline) throw error;
      await clock.pause(pauseMs);
    }
  }
}
