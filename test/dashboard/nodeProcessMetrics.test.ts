/**
 * Every `xraft-node` process serves its metrics at `GET /metrics` on its listen port (HTTP/2) in the Prometheus text
 * format, and with `--dashboard-feed` its dashboard feed at `GET /dashboard/feed` (SSE).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { FeedBatch } from '../../src/dashboard/index.js';
import { ProcessCluster, proposal, type NodeProcess, type Status } from '../process/support.js';
import { parsePrometheusText, type Family } from './prometheusText.js';

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ flags: ['--dashboard-feed'] });
}, 15_000);
afterAll(async () => {
  await cluster?.stop();
});

/** One GET on the node's HTTP/2 session: status, content type and body as text. */
function get(node: NodeProcess, path: string): Promise<{ status: number; contentType: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const stream = node.rawClient().session.request({ ':method': 'GET', ':path': path }, { endStream: true });
    const chunks: Buffer[] = [];
    let status = 0;
    let contentType: string | undefined;
    stream.setTimeout(2000, () => stream.close());
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      contentType = headers['content-type'];
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ status, contentType, text: Buffer.concat(chunks).toString('utf8') }));
    stream.on('error', reject);
  });
}

/** The first `data:` frame of the node's SSE feed. */
function firstFeedBatch(node: NodeProcess): Promise<{ contentType: string | undefined; batch: FeedBatch }> {
  return new Promise((resolve, reject) => {
    const stream = node.rawClient().session.request({ ':method': 'GET', ':path': '/dashboard/feed', accept: 'text/event-stream' }, { endStream: true });
    let contentType: string | undefined;
    let buffer = '';
    stream.setTimeout(3000, () => (stream.close(), reject(new Error(`${node.id}: no feed batch within 3 s`))));
    stream.on('response', (headers) => (contentType = headers['content-type']));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffer += chunk;
      const frame = buffer.split('\n\n').find((part) => part.startsWith('data: '));
      if (frame === undefined) return;
      stream.close();
      resolve({ contentType, batch: JSON.parse(frame.slice('data: '.length)) as FeedBatch });
    });
    stream.on('error', reject);
  });
}

const sampleValue = (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined =>
  (families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')))?.samples.find(
    (sample) => sample.name === name && Object.entries(labels).every(([key, want]) => sample.labels[key] === want),
  )?.value;

describe('xraft-node /metrics', () => {
  test('every node serves Prometheus text whose role, term and commit index agree with its client status', async () => {
    const leader = await cluster.leader();
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => leader.request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key: `m${i}`, value: `${i}` }))),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const leaderStatus = (await leader.status())!;
    await cluster.appliedEverywhere(leaderStatus.commitIndex);

    for (const node of cluster.nodes) {
      // Nothing is proposed any more: the status read before and after the scrape is the one the scrape saw.
      const before = (await node.status()) as Status;
      const metrics = await get(node, '/metrics');
      const after = (await node.status()) as Status;
      expect(metrics.status, cluster.logs()).toBe(200);
      expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = parsePrometheusText(metrics.text);
      expect({ role: after.role, term: after.term, commitIndex: after.commitIndex }).toEqual({ role: before.role, term: before.term, commitIndex: before.commitIndex });

      expect(sampleValue(families, 'xraft_role', { role: after.role, node: node.id }), `${node.id} is ${after.role}`).toBe(1);
      const otherRoles = families.get('xraft_role')!.samples.filter((sample) => sample.labels.role !== after.role);
      expect(otherRoles.every((sample) => sample.value === 0)).toBe(true);
      expect(sampleValue(families, 'xraft_is_leader')).toBe(after.role === 'leader' ? 1 : 0);
      expect(sampleValue(families, 'xraft_term')).toBe(after.term);
      expect(sampleValue(families, 'xraft_commit_index')).toBe(after.commitIndex);
      expect(sampleValue(families, 'xraft_applied_index')).toBe(after.appliedIndex);
      expect(sampleValue(families, 'xraft_last_index')).toBe(after.lastIndex);
      expect(sampleValue(families, 'xraft_pending_operations')).toBe(0);
      // The LevelLogStore observer: every node wrote and synced the entries it was sent.
      expect(sampleValue(families, 'xraft_append_batch_entries_count')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'xraft_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(families, 'xraft_leader_changes_total')).toBeGreaterThanOrEqual(1);
      // Client API proposals are counted and timed where they arrive: all five at the leader.
      expect(sampleValue(families, 'xraft_proposals_total', { outcome: 'ok' })).toBe(node === leader ? 5 : 0);
      expect(sampleValue(families, 'xraft_proposal_duration_seconds_count')).toBe(node === leader ? 5 : 0);
      for (const name of ['xraft_elections_total', 'xraft_snapshots_total', 'xraft_snapshot_bytes', 'xraft_snapshot_duration_seconds']) {
        expect(families.has(name), name).toBe(true);
      }
    }
  });

  test('--dashboard-feed serves the node feed as SSE on the same port', async () => {
    const leader = await cluster.leader();
    for (const node of cluster.nodes) {
      const { contentType, batch } = await firstFeedBatch(node);
      expect(contentType).toBe('text/event-stream');
      expect(batch.node).toBe(node.id);
      expect(batch.view.leader).toBe(leader.id);
    }
  });
});
