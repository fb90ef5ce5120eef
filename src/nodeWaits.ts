/**
 * Promises on a node's events, for the handle's `whenLeader()`, `campaign()` and `takeSnapshot()`: each settles once
 * the event it waits for arrives, or rejects with TimeoutError after its deadline on the node's own clock, or with
 * StoppedError when the node stops first.
 */
import type { Subscription } from 'xstate';
import type { NodeId } from './core/index.js';
import { NotLeaderError, SnapshotFailedError, StoppedError, TimeoutError } from './errors.js';
import type { NodeEmitted, NodeScalars } from './node/machine.js';

/** What the waits need of a node. */
export interface WaitableNode {
  readonly id: NodeId;
  status(): NodeScalars;
  on<Type extends NodeEmitted['type']>(type: Type, listener: (event: Extract<NodeEmitted, { type: Type }>) => void): Subscription;
  /** Resolves after `ms` of the node's clock. */
  sleep(ms: number): Promise<void>;
}

/**
 * Settle once `check` (run now and after every event of `types`) returns an outcome: `{ value }` resolves, `{ error }`
 * rejects; undefined keeps waiting.
 */
function waitFor<T>(
  node: WaitableNode,
  types: readonly NodeEmitted['type'][],
  timeoutMs: number,
  check: () => { readonly value: T } | { readonly error: Error } | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const subscriptions: Subscription[] = [];
    let settled = false;
    const settle = (outcome: { readonly value: T } | { readonly error: Error }): void => {
      if (settled) return;
      settled = true;
      for (const subscription of subscriptions) subscription.unsubscribe();
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.value);
    };
    const recheck = (): void => {
      const outcome = node.status().role === 'stopped' ? { error: new StoppedError(node.status().stopReason ?? 'the node is stopped') } : check();
      if (outcome !== undefined) settle(outcome);
    };
    for (const type of [...types, 'stopped' as const]) subscriptions.push(node.on(type, recheck));
    recheck();
    if (!settled) void node.sleep(timeoutMs).then(() => settle({ error: new TimeoutError(timeoutMs) }));
  });
}

/** The leader's id once one is known (at once if one is). */
export function whenLeader(node: WaitableNode, timeoutMs: number): Promise<NodeId> {
  return waitFor(node, ['leaderChanged'], timeoutMs, () => {
    const { leader } = node.status();
    return leader === null ? undefined : { value: leader };
  });
}

/** Resolves once this node leads; NotLeaderError once another node does. Call right after asking it to campaign. */
export function whenCampaignDecided(node: WaitableNode, timeoutMs: number): Promise<void> {
  return waitFor(node, ['leaderChanged'], timeoutMs, () => {
    const { leader } = node.status();
    if (leader === node.id) return { value: undefined };
    if (leader !== null) return { error: new NotLeaderError(leader, 'not-appended') };
    return undefined;
  });
}

/**
 * Resolves with the snapshot taken once one covers `index` (at once if the current one does); rejects with
 * SnapshotFailedError when taking it fails.
 */
export function whenSnapshotCovers(node: WaitableNode, index: number, timeoutMs: number): Promise<{ readonly index: number }> {
  let failure: Extract<NodeEmitted, { type: 'snapshotFailed' }> | null = null;
  const watch = node.on('snapshotFailed', (event) => (failure = event));
  return waitFor<{ readonly index: number }>(node, ['snapshot', 'snapshotFailed'], timeoutMs, () => {
    const { snapshotIndex } = node.status();
    if (snapshotIndex >= index) return { value: { index: snapshotIndex } };
    if (failure !== null) return { error: new SnapshotFailedError(failure.index, failure.message, failure.unsupported) };
    return undefined;
  }).finally(() => watch.unsubscribe());
}
