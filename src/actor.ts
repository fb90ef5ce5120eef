/**
 * The base of every xraft actor (timer, network, log store, state machine).
 *
 * An actor is a plain class: the node sends it typed messages, it answers with typed replies. Subclasses implement
 * the `on<Message>` handlers (abstract-level's habit: the public `receive` dispatches, the protected hooks do the
 * work). `fromActor` turns an instance into xstate actor logic so that the node statechart can invoke it as a child
 * and address it with `sendTo`.
 */
import { fromCallback, type CallbackActorLogic } from 'xstate';

export interface Message {
  readonly type: string;
}

export abstract class Actor<In extends Message, Out extends Message> {
  // A method-shaped holder keeps actor classes covariant in their reply type (a StateMachine<C, number> is a
  // StateMachine<C, unknown>), which a plain function-typed field would not.
  #outbox: { deliver(reply: Out): void } | null = null;

  /** Handle one message from the node. Implementations dispatch on `message.type` to their typed handlers. */
  abstract receive(message: In): void;

  /** Called when the node starts the actor. */
  protected onStart(): void {}

  /** Called when the node stops the actor (or the node itself stops). Release timers, sockets, handles here. */
  protected onStop(): void {}

  /** Answer the node. Replies after the actor was stopped are dropped: the node that asked is gone. */
  protected reply(message: Out): void {
    this.#outbox?.deliver(message);
  }

  /** Whether the actor is attached to a running node. */
  protected get attached(): boolean {
    return this.#outbox !== null;
  }

  /** @internal Wire the actor to its node. */
  attach(outbox: (reply: Out) => void): void {
    if (this.#outbox !== null) throw new Error(`${this.constructor.name} is already attached to a node`);
    this.#outbox = { deliver: outbox };
    this.onStart();
  }

  /** @internal */
  detach(): void {
    if (this.#outbox === null) return;
    this.#outbox = null;
    this.onStop();
  }
}

/** xstate actor logic that runs an `Actor` instance given as input: messages in through `receive`, replies back. */
export function fromActor<In extends Message, Out extends Message>(): CallbackActorLogic<In, Actor<In, Out>> {
  return fromCallback<In, Actor<In, Out>>(({ input, receive, sendBack }) => {
    input.attach((reply) => sendBack(reply));
    receive((message) => input.receive(message));
    return () => input.detach();
  });
}
