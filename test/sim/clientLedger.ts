/**
 * What clients were told. Every proposal carries a unique command (`c<seq>`), so an entry's data names the proposal
 * it came from. An entry applied on the leader that proposed it (the `apply` effect maps its index to the proposal
 * id) is an acknowledged write: the client was told it succeeded, so no later failure may lose it.
 */
import type { NodeId, Proposal, ProposalFailure } from '../../src/core/types.js';
import { SafetyViolation } from './safetyViolation.js';

export type ProposalStatus = 'pending' | 'acknowledged' | 'failed-not-appended' | 'failed-unknown';

export interface ProposalRecord {
  readonly id: string;
  readonly data: string;
  readonly proposer: NodeId;
  readonly proposedAt: number;
  status: ProposalStatus;
}

export class ClientLedger {
  private nextSeq = 1;
  private readonly byId = new Map<string, ProposalRecord>();
  private readonly byData = new Map<string, ProposalRecord>();

  /** A fresh proposal with a unique id and command; `prefix` tells workload commands from liveness probes. */
  create(proposer: NodeId, time: number, prefix = 'c'): Proposal {
    return this.createWith(proposer, time, (seq) => `${prefix}${seq}`);
  }

  /** A fresh proposal whose command is built from its proposal id (`p<seq>`); the command must be unique. */
  createWith(proposer: NodeId, time: number, encode: (seq: number, id: string) => string): Proposal {
    const seq = this.nextSeq++;
    const record: ProposalRecord = { id: `p${seq}`, data: encode(seq, `p${seq}`), proposer, proposedAt: time, status: 'pending' };
    if (this.byData.has(record.data)) throw new Error(`command ${record.data} proposed twice`);
    this.byId.set(record.id, record);
    this.byData.set(record.data, record);
    return { id: record.id, data: record.data };
  }

  /** Give a proposal a command chosen by a scenario test instead of the generated one. */
  rename(id: string, data: string): void {
    const record = this.byId.get(id);
    if (record === undefined || this.byData.has(data)) throw new Error(`cannot name proposal ${id} '${data}'`);
    this.byData.delete(record.data);
    const renamed: ProposalRecord = { ...record, data };
    this.byId.set(id, renamed);
    this.byData.set(data, renamed);
  }

  get(id: string): ProposalRecord | undefined {
    return this.byId.get(id);
  }

  byCommand(data: string): ProposalRecord | undefined {
    return this.byData.get(data);
  }

  /** The proposing leader applied the entry carrying proposal `id`. */
  acknowledged(id: string, entryData: string, node: NodeId): void {
    const record = this.byId.get(id);
    if (record === undefined) throw new SafetyViolation('Client Outcome', `${node} acknowledged unknown proposal ${id}`);
    if (record.data !== entryData) {
      throw new SafetyViolation('Client Outcome', `${node} acknowledged ${id} (${record.data}) with the entry of ${entryData}`);
    }
    if (record.status !== 'pending') {
      throw new SafetyViolation('Client Outcome', `${node} acknowledged ${id} whose outcome was already ${record.status}`);
    }
    record.status = 'acknowledged';
  }

  failed(id: string, failure: Pick<ProposalFailure, 'outcome'>, node: NodeId): void {
    const record = this.byId.get(id);
    if (record === undefined) throw new SafetyViolation('Client Outcome', `${node} failed unknown proposal ${id}`);
    if (record.status !== 'pending') {
      throw new SafetyViolation('Client Outcome', `${node} failed ${id} whose outcome was already ${record.status}`);
    }
    record.status = failure.outcome === 'not-appended' ? 'failed-not-appended' : 'failed-unknown';
  }

  /** A command reached the committed log: it must not be one the client was told was never appended. */
  committed(data: string, index: number): void {
    const record = this.byData.get(data);
    if (record?.status === 'failed-not-appended') {
      throw new SafetyViolation('Client Outcome', `${record.id} (${data}) failed as not-appended but was committed at ${index}`);
    }
  }

  acknowledgedCommands(): string[] {
    const out: string[] = [];
    for (const record of this.byId.values()) if (record.status === 'acknowledged') out.push(record.data);
    return out;
  }

  count(status: ProposalStatus): number {
    let n = 0;
    for (const record of this.byId.values()) if (record.status === status) n++;
    return n;
  }

  get size(): number {
    return this.byId.size;
  }
}
