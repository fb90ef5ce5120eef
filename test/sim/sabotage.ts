/** Breaking the core on purpose, for one run, to show that the simulator's checks catch it. */
import { RaftCore } from '../../src/core/raft.js';

/**
 * Break the paper's Figure 8 rule: the leader may commit any index a majority stores, whatever its term, by replacing
 * `RaftCore.prototype.commitsByCounting` (the one place the core decides it). Returns the function that puts the rule
 * back.
 */
export function sabotageCommitRule(): () => void {
  const prototype = RaftCore.prototype as unknown as { commitsByCounting?: (index: number) => boolean };
  const original = prototype.commitsByCounting;
  if (original === undefined) throw new Error('RaftCore.prototype.commitsByCounting does not exist: the old-term-commit sabotage needs it');
  prototype.commitsByCounting = () => true;
  return () => {
    prototype.commitsByCounting = original;
  };
}
