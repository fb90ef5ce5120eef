/**
 * Ids of the operations a node's callers start (proposals, membership changes, reads). A proposal's id travels in its
 * log entry, and every node matches applied entries against the ids of its own callers, so an id must be unique
 * across nodes and across restarts of one node: each node handle draws a random prefix once (126 bits, nanoid's
 * strength) and counts after it. A fresh nanoid per operation would cost more than the rest of a proposal's setup.
 */
import { nanoid } from 'nanoid';

/** A source of unique operation ids: `<random prefix>.<counter in base 36>`. */
export function operationIds(): () => string {
  const prefix = `${nanoid()}.`;
  let next = 0;
  return () => prefix + (next++).toString(36);
}
