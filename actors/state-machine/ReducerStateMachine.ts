/**
 * A state machine from a pure reducer: the quickest way to replicate a small in-memory state.
 *
 * @example
 * const counter = new ReducerStateMachine(0, (count, by: number) => [count + by, count + by]);
 */
import { StateMachine, type ApplyContext } from './StateMachine.js';

export type Reducer<State, Command, Result> = (state: State, command: Command, context: ApplyContext) => [State, Result];

export class ReducerStateMachine<State, Command, Result, AppError = never> extends StateMachine<Command, Result, AppError> {
  private current: State;

  constructor(
    initial: State,
    private readonly reducer: Reducer<State, Command, Result>,
  ) {
    super();
    this.current = initial;
  }

  /** The state after every entry applied so far. */
  get state(): State {
    return this.current;
  }

  protected override snapshotValue(): unknown {
    return this.current;
  }

  protected override restoreValue(value: unknown): void {
    this.current = value as State;
  }

  apply(command: Command, context: ApplyContext): Result {
    const [next, result] = this.reducer(this.current, command, context);
    this.current = next;
    return result;
  }
}
