/**
 * A few bare cores wired by hand, for unit tests of protocol rules: every write is durable as soon as it is issued,
 * messages wait in `inFlight` until the test delivers or drops them, and timers fire only when the test says so.
 * Applies and snapshots complete at once too. Other effects are kept per node in `seen`, newest last.
 */
import { RaftCore, seededRandom, type Effect, type NodeId, type RaftConfig, type RaftMessage } from '../../src/core/index.js';

export interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: RaftMessage;
}

export class CoreCluster {
  readonly cores = new Map<NodeId, RaftCore>();
  inFlight: InFlight[] = [];
  readonly seen = new Map<NodeId, Effect[]>();
  /** The driver's clock, for lease reads. */
  now = 0;

  constructor(ids: readonly NodeId[], config: Partial<RaftConfig> = {}) {
    ids.forEach((id, number) => {
      const core = new RaftCore({ id, voters: ids, config: { electionTimeoutMs: 1000, heartbeatIntervalMs: 100, ...config }, random: seededRandom(number + 1) });
      this.cores.set(id, core);
      this.seen.set(id, []);
      this.perform(id, core.start());
    });
  }

  core(id: NodeId): RaftCore {
    return this.cores.get(id)!;
  }

  /** Feed one input to a node and perform what it asks. */
  input(id: NodeId, call: (core: RaftCore) => Effect[]): Effect[] {
    const effects = call(this.core(id));
    this.perform(id, effects);
    return effects;
  }

  /** Deliver in-flight messages matching `which` (all by default), and what they cause, until none is left. */
  deliver(which: (message: InFlight) => boolean = () => true, rounds = 50): void {
    for (let round = 0; round < rounds; round++) {
      const now = this.inFlight.filter(which);
      if (now.length === 0) return;
      this.inFlight = this.inFlight.filter((message) => !which(message));
      for (const { from, to, message } of now) this.input(to, (core) => core.receive(from, message));
    }
    throw new Error('messages kept flowing');
  }

  drop(which: (message: InFlight) => boolean): InFlight[] {
    const dropped = this.inFlight.filter(which);
    this.inFlight = this.inFlight.filter((message) => !which(message));
    return dropped;
  }

  /** `id` campaigns (pre-vote first) and every message is delivered: it leads. */
  elect(id: NodeId): void {
    this.input(id, (core) => core.electionTimeout());
    this.deliver();
    if (this.core(id).role !== 'leader') throw new Error(`${id} did not win: ${this.core(id).role}`);
  }

  /** Effects of `type` that node `id` produced since the test began, or since `clearSeen`. */
  effectsOf<Type extends Effect['type']>(id: NodeId, type: Type): Extract<Effect, { type: Type }>[] {
    return this.seen.get(id)!.filter((effect): effect is Extract<Effect, { type: Type }> => effect.type === type);
  }

  clearSeen(): void {
    for (const list of this.seen.values()) list.length = 0;
  }

  private perform(id: NodeId, effects: readonly Effect[]): void {
    const core = this.core(id);
    for (const effect of effects) {
      if (effect.type === 'send') this.inFlight.push({ from: id, to: effect.to, message: effect.message });
      else if (effect.type === 'persist') this.perform(id, core.persisted(effect.writeId));
      else if (effect.type === 'apply') this.perform(id, core.appliedTo(effect.entries[effect.entries.length - 1]!.index));
      else if (effect.type === 'takeSnapshot') this.perform(id, core.snapshotSaved(effect.meta));
      else this.seen.get(id)!.push(effect);
    }
  }
}

export const isType =
  (type: RaftMessage['type'], to?: NodeId) =>
  ({ message, to: addressee }: InFlight): boolean =>
    message.type === type && (to === undefined || addressee === to);
