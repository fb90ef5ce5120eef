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
  /** The last `onStop`'s outcome: settles once the actor has released what it held. */
  #closed: Promise<void> = Promise.resolve();

  /** Handle one message from the node. Implementations dispatch on `message.type` to their typed handlers. */
  abstract receive(message: In): void;

  /** Called when the node starts the actor. */
  protected onStart(): void {}

  /**
   * Called when the node stops the actor (or the node itself stops). Release timers, sockets, handles here. Return a
   * promise when releasing takes I/O (closing a database, a server): the node's `stop()` waits for it, and reports it
   * if it rejects.
   */
  protected onStop(): void | Promise<void> {}

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

  /**
   * @internal Unwire the actor from its node and run `onStop`. Returns (and keeps, see `closed`) its outcome; a
   * throwing `onStop` gives a rejected promise, never an exception inside the node's shutdown.
   */
  detach(): Promise<void> {
    if (this.#outbox === null) return this.#closed;
    this.#outbox = null;
    let closing: Promise<void>;
    try {
      closing = Promise.resolve(this.onStop());
    } catch (error) {
      closing = Promise.reject(error);
    }
    // Whoever asks `closed()` sees the failure; nobody asking is no unhandled rejection.
    closing.catch(() => undefined);
    this.#closed = closing;
    return closing;
  }

  /** @internal Settles when the last `detach` has finished closing (at once if the actor was never stopped). */
  closed(): Promise<void> {
    return this.#closed;
  }
}

/** What `fromActor` runs: the actor, and the node whose inbox takes its replies. */
export interface ActorChild<In extends Message, Out extends Message> {
  readonly actor: Actor<In, Out>;
  /**
   * The node's inbox (src/node/inbox.ts), which keeps one order for everything the node hears; while it has none,
   * replies go to the parent statechart with xstate's `sendBack`. Read at each reply: the node gets its inbox after
   * xstate has created its children.
   */
  readonly node: { readonly inbox: ((reply: Out) => void) | null };
}

/** xstate actor logic that runs an `Actor` instance given as input: messages in through `receive`, replies back. */
export function fromActor<In extends Message, Out extends Message>(): CallbackActorLogic<In, ActorChild<In, Out>> {
  return fromCallback<In, ActorChild<In, Out>>(({ input, receive, sendBack }) => {
    const { actor, node } = input;
    actor.attach((reply) => {
      const { inbox } = node;
      if (inbox === null) sendBack(reply);
      else inbox(reply);
    });
    receive((message) => actor.receive(message));
    // xstate ignores what a cleanup returns: the node's `stop()` collects the close through `closed()`.
    return () => void actor.detach();
  });
}
