/**
 * A group's timer that can be put to sleep: the node's timer as usual, except that while the group is quiesced
 * neither of its timers fires, so an idle group costs no timer events, no heartbeats and no election.
 *
 * It wraps any `TimerActor` (the host's wheel timer, the simulator's timer) and sits between it and the node:
 * requests go through to the inner timer while awake; while asleep, a timer that fires is swallowed. Quiescing only
 * touches timers (liveness), never what the core decides: the core simply does not hear `ElectionTimeout` or
 * `HeartbeatDue` while asleep, exactly as if time were passing slowly for it.
 *
 * Waking re-arms what the core had asked for: a follower's election timer for its full randomized timeout (never the
 * failure detector's shorter estimate: a follower woken by a dead leader's silence must still wait a whole election
 * timeout before it campaigns, which is what keeps leader leases safe), a leader's heartbeat one interval on (what
 * woke it sends its own messages: a proposal its append, a read its round) and its check-quorum timer for a full
 * election timeout (so that followers can answer before it counts them).
 */
import { TimerActor, type StartElectionTimer, type TimerMessage, type TimerName, type TimerReply } from '../../actors/timer/TimerActor.js';

export interface QuiescingTimerHooks {
  /** The leader's heartbeat is due: return true to put the group to sleep instead of telling the core. */
  heartbeatDue(): boolean;
  /**
   * The election timer fired: return a delay in ms to hold it back for (the host has enough campaigns under way),
   * or 0 to tell the core now. Holding a timeout back only delays an election, as a slower clock would.
   */
  electionDelay(): number;
  /** The core asked for a timer while the group slept (something reached it): the group woke. */
  wokeByCore(): void;
}

export class QuiescingTimer extends TimerActor {
  #asleep = false;
  /** The core's last election timer request, re-armed on waking. */
  private election: StartElectionTimer | null = null;
  /** The core wants heartbeats (it leads): the last request was a start, not a cancel, and it has not fired since. */
  private heartbeatWanted = false;
  /** The interval of the core's last heartbeat request. */
  private heartbeatAfterMs = 0;
  private hooks: QuiescingTimerHooks = { heartbeatDue: () => false, electionDelay: () => 0, wokeByCore: () => undefined };

  constructor(private readonly inner: TimerActor) {
    super();
  }

  get asleep(): boolean {
    return this.#asleep;
  }

  /** Who decides when to sleep, and hears of wakes from the core. */
  setHooks(hooks: QuiescingTimerHooks): void {
    this.hooks = hooks;
  }

  now(): number {
    return this.inner.now();
  }

  override receive(message: TimerMessage): void {
    if (message.type === 'StartElectionTimer') this.election = message;
    else {
      this.heartbeatWanted = message.type === 'StartHeartbeatTimer';
      if (message.type === 'StartHeartbeatTimer') this.heartbeatAfterMs = message.afterMs;
    }
    if (this.#asleep) {
      this.#asleep = false;
      this.hooks.wokeByCore();
      this.rearm();
      return;
    }
    this.inner.receive(message);
  }

  /** Stop both timers until `wake`. Returns false when already asleep. */
  sleep(): boolean {
    if (this.#asleep) return false;
    this.#asleep = true;
    this.inner.receive({ type: 'CancelHeartbeatTimer' });
    return true;
  }

  /** Resume: re-arm what the core asked for. Returns false when already awake. */
  wake(): boolean {
    if (!this.#asleep) return false;
    this.#asleep = false;
    this.rearm();
    return true;
  }

  private rearm(): void {
    if (this.election !== null) {
      // Without leaderHeard: the full randomized timeout, not the failure detector's estimate.
      this.inner.receive({ type: 'StartElectionTimer', afterMs: this.election.afterMs, ...(this.election.baseMs === undefined ? {} : { baseMs: this.election.baseMs }) });
    }
    if (this.heartbeatWanted) this.inner.receive({ type: 'StartHeartbeatTimer', afterMs: this.heartbeatAfterMs });
  }

  private fromInner(reply: TimerReply): void {
    if (this.#asleep) return;
    if (reply.type === 'ElectionTimeout') {
      const delay = this.hooks.electionDelay();
      if (delay > 0) {
        this.inner.receive({ type: 'StartElectionTimer', afterMs: delay });
        return;
      }
    }
    if (reply.type === 'HeartbeatDue') {
      if (this.hooks.heartbeatDue()) {
        // Asleep with the heartbeat still wanted: waking re-arms it.
        this.#asleep = true;
        return;
      }
      this.heartbeatWanted = false;
    }
    this.reply(reply);
  }

  protected override onStart(): void {
    this.inner.attach((reply) => this.fromInner(reply));
  }

  protected override onStop(): Promise<void> {
    return this.inner.detach();
  }

  // The inner timer does the arming; these are never reached (receive is overridden).
  protected arm(_timer: TimerName, _afterMs: number): void {}
  protected disarm(_timer: TimerName): void {}
}
