/**
 * A cluster-wide timer: tasks scheduled once for the whole cluster, run by whichever node leads, exactly once even
 * when the leader dies in the middle of a run (the problem raftify was built for: Backend.AI's GlobalTimer).
 *
 * What "exactly once" means here, precisely:
 * - Each occurrence of a task has a run id, `task@occurrence`, fixed by the replicated state (not by a node).
 * - A leader first commits `start(task, runId, token)`, then calls the task's handler, then commits `finish`.
 *   `token` is the leader's term: it grows with every takeover, so it is a fencing token.
 * - A leader that finds a run started but not finished (its predecessor died between `start` and `finish`) runs the
 *   same run id again with its own, larger token. So the handler is called **at least once** per occurrence, and may
 *   be called twice (or, with a paused old leader that wakes up, concurrently).
 * - The handler's effect happens **exactly once** when the handler is idempotent by run id: its side effect is keyed
 *   by `runId` (a unique key, an idempotency key of an external API), or guarded by the fencing token (the external
 *   system refuses a token lower than one it has seen). Without one of those, no protocol can promise exactly once:
 *   a leader can die after the effect and before anyone could record it.
 * - `finish` counts only from the current holder (same run id and token), so a stale leader cannot finish a run it
 *   no longer owns, and an occurrence is never started again once finished.
 *
 * Time: `at` is a wall-clock timestamp written by the proposer; only the leader compares it with its clock, never the
 * state machine, so applying stays deterministic. The leader reads the schedule linearizably before acting on it, so
 * a new leader sees every `start` and `finish` its predecessors committed.
 *
 * @example
 * const timer = new GlobalTimer(node, { 'nightly-report': async (runId) => reports.insertOnce(runId, build()) });
 * await node.propose({ op: 'schedule', task: 'nightly-report', at: Date.parse('2030-01-01T02:00:00Z'), everyMs: 86_400_000 });
 */
import { z } from 'zod';
import { StateMachine, type RaftNode } from '../../src/index.js';

export const timerCommand = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('schedule'), task: z.string().min(1), at: z.number(), everyMs: z.number().positive().optional() }),
  z.strictObject({ op: z.literal('start'), task: z.string(), runId: z.string(), token: z.number().int() }),
  z.strictObject({ op: z.literal('finish'), task: z.string(), runId: z.string(), token: z.number().int() }),
]);
export type TimerCommand = z.infer<typeof timerCommand>;

interface Task {
  /** When the next occurrence is due (ms since the epoch). */
  at: number;
  everyMs: number | undefined;
  /** The next occurrence's number; its run id is `task@occurrence`. */
  occurrence: number;
}

/** The replicated schedule. Results: whether a `start` or `finish` took effect. */
export class TimerState extends StateMachine<TimerCommand, boolean> {
  readonly tasks = new Map<string, Task>();
  /** Runs started and not finished, by task. Invariant: at most one per task, for the task's current occurrence. */
  readonly started = new Map<string, { runId: string; token: number }>();
  readonly finished = new Set<string>();

  apply(command: TimerCommand): boolean {
    switch (command.op) {
      case 'schedule':
        this.tasks.set(command.task, { at: command.at, everyMs: command.everyMs, occurrence: 0 });
        return true;
      case 'start': {
        const task = this.tasks.get(command.task);
        const held = this.started.get(command.task);
        // Only the task's current occurrence, never a finished one, and only to take over with a newer token.
        if (task === undefined || command.runId !== `${command.task}@${task.occurrence}` || this.finished.has(command.runId)) return false;
        if (held !== undefined && held.token >= command.token) return false;
        this.started.set(command.task, { runId: command.runId, token: command.token });
        return true;
      }
      case 'finish': {
        const held = this.started.get(command.task);
        if (held?.runId !== command.runId || held.token !== command.token) return false; // fenced off
        this.started.delete(command.task);
        this.finished.add(command.runId);
        const task = this.tasks.get(command.task)!;
        if (task.everyMs === undefined) this.tasks.delete(command.task);
        else this.tasks.set(command.task, { ...task, at: task.at + task.everyMs, occurrence: task.occurrence + 1 });
        return true;
      }
    }
  }

  protected override snapshotValue(): unknown {
    return { tasks: this.tasks, started: this.started, finished: this.finished };
  }

  protected override restoreValue(value: unknown): void {
    const state = value as { tasks: Map<string, Task>; started: TimerState['started']; finished: Set<string> };
    for (const [name, task] of state.tasks) this.tasks.set(name, task);
    for (const [name, run] of state.started) this.started.set(name, run);
    for (const runId of state.finished) this.finished.add(runId);
  }
}

/** Runs one occurrence; must be idempotent by `runId` (or honour `token` as a fencing token). */
export type TaskHandler = (runId: string, token: number) => Promise<void>;

/** Drives the schedule on whichever node leads: one instance per node, with the same handlers everywhere. */
export class GlobalTimer {
  private readonly inFlight = new Set<string>();
  private readonly ticker: NodeJS.Timeout;

  constructor(
    private readonly node: RaftNode<TimerCommand, boolean, TimerState>,
    private readonly handlers: Readonly<Record<string, TaskHandler>>,
    tickMs = 50,
    private readonly now: () => number = Date.now,
  ) {
    this.ticker = setInterval(() => void this.tick().catch(() => undefined), tickMs);
    this.ticker.unref();
  }

  stop(): void {
    clearInterval(this.ticker);
  }

  private async tick(): Promise<void> {
    const { role, term } = this.node.status();
    if (role !== 'leader') return;
    // Linearizable: this leader sees every start and finish committed before, by itself or its predecessors.
    const due = await this.node.read((state) =>
      [...state.tasks].filter(([, task]) => task.at <= this.now()).map(([name, task]) => ({ name, runId: `${name}@${task.occurrence}`, held: state.started.get(name) })),
    );
    for (const { name, runId, held } of due) {
      if (this.inFlight.has(name) || this.handlers[name] === undefined) continue;
      this.inFlight.add(name);
      // A failed run (handler threw, proposal timed out) is tried again at a later tick, under the same run id.
      void this.run(name, runId, term, held?.token === term)
        .catch(() => undefined)
        .finally(() => this.inFlight.delete(name));
    }
  }

  private async run(task: string, runId: string, token: number, holding: boolean): Promise<void> {
    if (!holding && !(await this.node.propose({ op: 'start', task, runId, token }))) return;
    await this.handlers[task]!(runId, token);
    await this.node.propose({ op: 'finish', task, runId, token });
  }
}
