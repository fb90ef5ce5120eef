/**
 * Waiting on a condition, never on a count of event-loop turns or a sleep: the wait ends as soon as the condition
 * holds and fails, naming what it waited for, once a wall-clock bound has passed.
 */

export interface WaitForOptions {
  /** What is awaited, for the failure message; a function is called only on failure (to describe the state then). */
  readonly what: string | (() => string);
  /** Give up after this many milliseconds of wall-clock time. Default 5000. */
  readonly timeoutMs?: number;
}

export class WaitTimeoutError extends Error {
  readonly code = 'WAIT_TIMEOUT';
}

/**
 * Resolve once `condition()` is true. Between checks the wait yields a macrotask (`setImmediate`), so that timers,
 * I/O and in-process message delivery all get to run; the number of turns is not the point, the condition is.
 */
export async function waitFor(condition: () => boolean, options: WaitForOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) {
      const what = typeof options.what === 'function' ? options.what() : options.what;
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Resolve with `promise`'s outcome, or fail after `timeoutMs` naming `what` (for operations that need no clock). */
export async function settledWithin<T>(promise: Promise<T>, options: WaitForOptions): Promise<T> {
  let settled = false;
  const observed = promise.finally(() => (settled = true));
  observed.catch(() => undefined);
  await waitFor(() => settled, options);
  return observed;
}
