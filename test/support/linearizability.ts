/**
 * A linearizability checker for key-value histories (Wing & Gong's search with Lowe's memoization, split per key as
 * P-compositionality allows, the way porcupine and Knossos do it).
 *
 * A history is a set of operations with the real time they were invoked and answered. The history is linearizable
 * when every operation can be given one instant between its call and its return such that, applied in that order to
 * a single register per key, each operation returns what it really returned.
 *
 * An operation whose outcome is unknown (it timed out, or the client crashed) has no return time: it may have taken
 * effect at any instant after its call, or never. Its output, if any, is ignored.
 */

export type KvOperation =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'append'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string };

export interface HistoryEntry {
  readonly id: number;
  readonly client: string;
  readonly op: KvOperation;
  /** Invocation time. */
  readonly call: number;
  /** Response time, or null when the outcome is unknown. */
  readonly ret: number | null;
  /** What the operation returned: the value read (get), the new value (append), null for an absent key. */
  readonly output: string | null;
}

export interface LinearizabilityResult {
  readonly ok: boolean;
  /** For a failure: the key whose history admits no linearization, and that history. */
  readonly key?: string;
  readonly history?: readonly HistoryEntry[];
  /** Search states explored, summed over keys. */
  readonly explored: number;
}

export interface CheckOptions {
  /** Give up after exploring this many states for one key (the problem is NP-complete). Default 2,000,000. */
  readonly maxStates?: number;
}

/** Apply `op` to a register holding `state`; return the new state and what a correct system answers. */
function step(state: string | null, op: KvOperation): { state: string | null; output: string | null } {
  switch (op.kind) {
    case 'put':
      return { state: op.value, output: null };
    case 'append': {
      const next = (state ?? '') + op.value;
      return { state: next, output: next };
    }
    case 'get':
      return { state, output: state };
  }
}

export function checkLinearizable(history: readonly HistoryEntry[], options: CheckOptions = {}): LinearizabilityResult {
  const byKey = new Map<string, HistoryEntry[]>();
  for (const entry of history) {
    const list = byKey.get(entry.op.key) ?? [];
    list.push(entry);
    byKey.set(entry.op.key, list);
  }
  let explored = 0;
  for (const [key, entries] of byKey) {
    const result = checkKey(entries, options.maxStates ?? 2_000_000);
    explored += result.explored;
    if (!result.ok) return { ok: false, key, history: entries, explored };
  }
  return { ok: true, explored };
}

function checkKey(entries: readonly HistoryEntry[], maxStates: number): { ok: boolean; explored: number } {
  // Unknown outcomes of reads constrain nothing: drop them. Unknown writes may happen at any time after their call.
  const ops = entries
    .filter((entry) => !(entry.ret === null && entry.op.kind === 'get'))
    .sort((a, b) => a.call - b.call);
  const count = ops.length;
  const completed = ops.filter((entry) => entry.ret !== null).length;
  const done = new Uint8Array(count);
  const seen = new Set<string>();
  let explored = 0;

  const memoKey = (state: string | null): string => {
    let bits = '';
    for (let i = 0; i < count; i += 16) {
      let word = 0;
      for (let j = i; j < Math.min(i + 16, count); j++) word = word * 2 + done[j]!;
      bits += String.fromCharCode(word + 32);
    }
    return `${bits}|${state === null ? '\u0000' : state}`;
  };

  const search = (state: string | null, linearizedCompleted: number): boolean => {
    if (linearizedCompleted === completed) return true;
    const key = memoKey(state);
    if (seen.has(key)) return false;
    seen.add(key);
    if (++explored > maxStates) throw new Error(`linearizability search gave up after ${maxStates} states`);
    // An operation may go next only if it was called before every remaining operation returned.
    let horizon = Number.POSITIVE_INFINITY;
    for (let i = 0; i < count; i++) {
      if (done[i] === 0 && ops[i]!.ret !== null) horizon = Math.min(horizon, ops[i]!.ret!);
    }
    for (let i = 0; i < count; i++) {
      const entry = ops[i]!;
      if (done[i] === 1) continue;
      if (entry.call > horizon) break;
      const next = step(state, entry.op);
      if (entry.ret !== null && next.output !== entry.output && entry.op.kind !== 'put') continue;
      done[i] = 1;
      if (search(next.state, linearizedCompleted + (entry.ret !== null ? 1 : 0))) return true;
      done[i] = 0;
    }
    return false;
  };

  return { ok: search(null, 0), explored };
}
