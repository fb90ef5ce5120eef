/**
 * Leadership transfers under the faults (`--transfers`): the leader is asked, through its node like
 * `transferLeadership()` does, to hand over to a named voter or to the most up-to-date one. Around a transfer:
 *
 * - the target is sometimes crashed mid-transfer (before or after its TimeoutNow arrives);
 * - a TimeoutNow is sometimes held back for one to three election timeouts (a network that delays one message past
 *   the transfer's abort and the old leader's renewed lease);
 * - with lease reads, idle clients read through the old leader and the target right away.
 *
 * What must hold: every transfer settles (success or TRANSFER_ABORTED, or the node that started it crashed) within a
 * few election timeouts; a success means another node leads (the target, when one was named); and the clients'
 * histories, lease reads included, stay linearizable (checked at the end of the run).
 */
import type { NodeId, RaftMessage, Role } from '../../src/core/types.js';
import type { KvWorkload } from './kvClients.js';
import type { RandomStream } from './randomStreams.js';
import { SafetyViolation } from './safetyViolation.js';
import type { SimHost } from './simHost.js';
import type { SimWorld } from './world.js';

interface Transfer {
  readonly host: SimHost;
  readonly incarnation: number;
  readonly target: NodeId | undefined;
  readonly startedAt: number;
  settled: boolean;
}

export class Transfers {
  private readonly transfers: Transfer[] = [];
  /** The last transfer reported aborted because its leader stepped down: who, to whom, in which term, when. */
  private steppedDown: { readonly host: SimHost; readonly target: NodeId | undefined; readonly term: number; readonly at: number } | null = null;
  /** Per seed: how often a TimeoutNow is held back, and a target crashed mid-transfer. */
  private readonly lateChance: number;
  private readonly targetCrashChance: number;

  constructor(
    private readonly world: SimWorld,
    private readonly random: RandomStream,
    private readonly workload: () => KvWorkload | null,
  ) {
    this.lateChance = random.pick([0.2, 0.5, 0.8]);
    this.targetCrashChance = random.pick([0.2, 0.4]);
  }

  /** How long a transfer may take to settle, in virtual time (the node's backstop is two election timeouts of its clock). */
  private get deadlineMs(): number {
    return 4 * this.world.config.electionTimeoutMs;
  }

  get settled(): boolean {
    return this.transfers.every((transfer) => transfer.settled || transfer.host.incarnation !== transfer.incarnation);
  }

  get unsettled(): string {
    const open = this.transfers.filter((transfer) => !transfer.settled && transfer.host.incarnation === transfer.incarnation);
    return open.length === 0 ? '' : `transfers unsettled on ${open.map((transfer) => transfer.host.id).join(',')}`;
  }

  inject(): void {
    const world = this.world;
    const leader = world.currentLeader();
    if (leader === undefined) return;
    const others = leader.running.members.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const target = this.random.chance(0.6) ? this.random.pick(others) : undefined;
    const transfer: Transfer = { host: leader, incarnation: leader.incarnation, target, startedAt: world.queue.now, settled: false };
    const started = leader.transferLeadership(target, (outcome) => {
      transfer.settled = true;
      if (outcome.ok) {
        world.stats.transfersSucceeded++;
        const known = leader.core?.leader ?? null;
        world.record(`transfer from ${leader.id} succeeded (leader ${known ?? '-'})`);
        if (known === leader.id || (target !== undefined && known !== target)) {
          throw new SafetyViolation('Transfer Outcome', `${leader.id}'s transfer${target === undefined ? '' : ` to ${target}`} reported success while ${known ?? 'no one'} leads`);
        }
        return;
      }
      const code = (outcome.error as { code?: string }).code ?? outcome.error.name;
      if (code === 'TRANSFER_ABORTED') world.stats.transfersAborted++;
      if (code === 'TRANSFER_ABORTED' && outcome.error.message.includes('stepped down')) {
        this.steppedDown = { host: leader, target, term: leader.core?.term ?? 0, at: world.queue.now };
      }
      world.record(`transfer from ${leader.id} failed ${code}: ${outcome.error.message}`);
    });
    if (!started) {
      world.record(`transfer from ${leader.id} refused: one is under way`);
      return;
    }
    this.transfers.push(transfer);
    world.stats.transfers++;
    if (target === undefined) world.stats.transfersUntargeted++;
    world.record(`transfer ${leader.id} -> ${target ?? 'any'}`);
    world.at(world.queue.now + this.deadlineMs, () => {
      if (!transfer.settled && leader.incarnation === transfer.incarnation) {
        world.fail(new SafetyViolation('Transfer Settles', `${leader.id}'s transfer to ${target ?? 'any voter'} (asked at ${transfer.startedAt.toFixed(0)} ms) has not settled after ${this.deadlineMs} ms`));
      }
    });
    if (target !== undefined && this.random.chance(this.targetCrashChance)) {
      const victim = world.host(target);
      world.stats.transferTargetCrashes++;
      world.queue.push(world.queue.now + this.random.between(0, 30), { kind: 'crash', host: victim, incarnation: victim.incarnation, why: 'transfer target, mid-transfer' });
    }
    const workload = this.workload();
    if (workload !== null && world.config.leaseReads) {
      // Lease reads right after the transfer began, on the old leader and (a little later) on the target.
      world.stats.leaseReadsAfterTransfer += workload.readNow(leader, true);
      const next = target === undefined ? this.random.pick(others) : target;
      world.at(world.queue.now + this.random.between(1, 40), () => {
        world.stats.leaseReadsAfterTransfer += workload.readNow(world.host(next), true);
      });
    }
  }

  /** A TimeoutNow held back: delivered one to three election timeouts late. */
  extraDelay(_from: SimHost, _to: NodeId, message: RaftMessage): number {
    if (message.type !== 'TimeoutNow' || this.world.phase !== 'faults' || !this.random.chance(this.lateChance)) return 0;
    this.world.stats.lateTimeoutNows++;
    const delay = this.random.between(1, 3) * this.world.config.electionTimeoutMs;
    this.world.record(`TimeoutNow to ${_to} held back ${delay.toFixed(0)} ms`);
    return delay;
  }

  /**
   * A transfer reported aborted because its leader stepped down must not have succeeded: the node it handed over to
   * (the target, or any other node for an untargeted one) must not take over in the very next term right after.
   */
  roleChanged(host: SimHost, role: Role): void {
    const aborted = this.steppedDown;
    if (role !== 'leader' || aborted === null || host === aborted.host) return;
    this.steppedDown = null;
    const term = host.core?.term ?? 0;
    if (term !== aborted.term || this.world.queue.now - aborted.at > this.world.config.electionTimeoutMs) return;
    if (aborted.target !== undefined && aborted.target !== host.id) return;
    throw new SafetyViolation(
      'Transfer Outcome',
      `${aborted.host.id}'s transfer to ${aborted.target ?? 'any voter'} was reported TRANSFER_ABORTED (the leader stepped down), then ${host.id} took over in term ${term} ${(this.world.queue.now - aborted.at).toFixed(0)} ms later`,
    );
  }

  heal(): void {}

  checkAtEnd(): void {}
}
