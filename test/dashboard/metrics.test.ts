/** Every key-value node serves its metrics at `/metrics` in the Prometheus text format. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startKvNode, type KvNode } from '../../examples/kv/node.js';
import { freePorts, waitFor } from '../network/support.js';
import { parsePrometheusText } from './prometheusText.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-metrics-'));
const nodes: KvNode[] = [];

beforeAll(async () => {
  const ports = await freePorts(6);
  const peers = Object.fromEntries(['n1', 'n2', 'n3'].map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
  for (const [i, id] of ['n1', 'n2', 'n3'].entries()) {
    nodes.push(await startKvNode({ id, raft: peers[id]!, http: `127.0.0.1:${ports[i + 3]}`, peers, data: join(dir, id), electionTimeoutMs: 300 }));
  }
});
afterAll(async () => {
  await Promise.all(nodes.map((kv) => kv.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('/metrics', () => {
  test('each node serves role, term, indexes, proposals, batches, fsyncs, elections and leader changes as Prometheus text', async () => {
    await waitFor(() => nodes.some((kv) => kv.node.status().role === 'leader'), 'a leader', 10_000);
    for (let i = 0; i < 5; i++) {
      const answer = await fetch(`http://${nodes[i % 3]!.http}/kv/k${i}`, { method: 'PUT', body: `v${i}` });
      expect(answer.status).toBe(204);
    }
    for (const kv of nodes) {
      const answer = await fetch(`http://${kv.http}/metrics`);
      expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusText(await answer.text());
      const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
        (families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, want]) => sample.labels[key] === want))?.value;
      const status = kv.node.status();
      expect(value('xraft_role', { role: status.role, node: kv.node.id })).toBe(1);
      expect(value('xraft_term')).toBe(status.term);
      expect(value('xraft_commit_index')).toBeGreaterThanOrEqual(5);
      expect(value('xraft_applied_index')).toBeGreaterThanOrEqual(5);
      expect(families.get('xraft_proposals_total')?.type).toBe('counter');
      expect(families.get('xraft_proposal_duration_seconds')?.type).toBe('histogram');
      expect(value('xraft_proposal_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(value('xraft_append_batch_entries_count')).toBeGreaterThanOrEqual(1);
      expect(value('xraft_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(value('xraft_pending_operations')).toBe(0);
      for (const name of ['xraft_elections_total', 'xraft_leader_changes_total', 'xraft_snapshots_total', 'xraft_snapshot_bytes', 'xraft_snapshot_duration_seconds']) {
        expect(families.has(name), name).toBe(true);
      }
      expect(value('xraft_leader_changes_total')).toBeGreaterThanOrEqual(1);
    }
    const elections = await Promise.all(nodes.map(async (kv) => parsePrometheusText(await (await fetch(`http://${kv.http}/metrics`)).text()).get('xraft_elections_total')!.samples[0]!.value));
    expect(elections.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(1);
  });
});
