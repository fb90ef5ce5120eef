/**
 * createRaftNode refuses options it cannot run with, before anything starts, naming what is wrong.
 */
import { describe, expect, test } from 'vitest';
import { createRaftNode, InvalidConfigError, ManualTimer, MemoryNetworkHub, type RaftConfig } from '../../src/index.js';
import { counterCommand, counterMachine } from '../support/cluster.js';

function create(options: { id?: string; members?: string[]; config?: Partial<RaftConfig>; maxPending?: number; snapshotChunkBytes?: number }) {
  const hub = new MemoryNetworkHub();
  const id = options.id ?? 'n1';
  return createRaftNode({
    id,
    members: options.members ?? ['n1', 'n2', 'n3'],
    commandSchema: counterCommand,
    stateMachine: counterMachine(),
    network: hub.endpoint(id === '' ? 'x' : id),
    timer: new ManualTimer(),
    config: options.config,
    maxPending: options.maxPending,
    snapshotChunkBytes: options.snapshotChunkBytes,
  });
}

function refusal(options: Parameters<typeof create>[0]): InvalidConfigError {
  try {
    void create(options);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).code).toBe('INVALID_CONFIG');
    return error as InvalidConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('createRaftNode options', () => {
  test('a heartbeat not below the election timeout is refused, also against the default timeout', () => {
    expect(refusal({ config: { electionTimeoutMs: 100, heartbeatIntervalMs: 100 } }).message).toMatch(/heartbeatIntervalMs \(100\) must be below config.electionTimeoutMs \(100\)/);
    expect(refusal({ config: { heartbeatIntervalMs: 5000 } }).message).toMatch(/electionTimeoutMs \(1000\)/);
  });

  test('out-of-range limits and thresholds are refused naming the field', () => {
    expect(refusal({ config: { snapshotWindow: 0 } }).message).toMatch(/config\.snapshotWindow/);
    expect(refusal({ config: { snapshotThresholdBytes: -1 } }).message).toMatch(/config\.snapshotThresholdBytes/);
    expect(refusal({ config: { electionTimeoutMs: 1.5 } }).message).toMatch(/config\.electionTimeoutMs/);
    expect(refusal({ config: { leaseClockDrift: 1 } }).message).toMatch(/config\.leaseClockDrift/);
    expect(refusal({ maxPending: 0 }).message).toMatch(/maxPending/);
    expect(refusal({ snapshotChunkBytes: 0 }).message).toMatch(/snapshotChunkBytes/);
  });

  test('an unknown config key (a typo) is refused rather than ignored', () => {
    expect(refusal({ config: { electionTimeout: 300 } as Partial<RaftConfig> }).message).toMatch(/electionTimeout/);
  });

  test('an empty id and repeated members are refused', () => {
    expect(refusal({ id: '' }).message).toMatch(/id/);
    expect(refusal({ members: ['n1', 'n2', 'n2'] }).message).toMatch(/members must not repeat/);
  });

  test('valid options start a node', async () => {
    const node = create({ config: { electionTimeoutMs: 300, heartbeatIntervalMs: 50, snapshotThresholdBytes: 0 } });
    expect(node.status().role).toBe('follower');
    await node.stop();
  });
});
