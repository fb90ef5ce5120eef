/**
 * Http2HostNetwork: the messages of many groups and the host's signals share one frame per turn on one stream per
 * peer host; a frame with a bad signal or a group-less batch is refused whole and delivers nothing.
 */
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupId, HostSignal } from '../../actors/network/HostNetwork.js';
import { Http2HostNetwork } from '../../actors/network/Http2HostNetwork.js';
import { STREAM_PATH } from '../../actors/network/Http2Network.js';
import type { RaftMessage } from '../../src/index.js';
import { encodeFrame, FRAMES_CONTENT_TYPE, STREAM_HEADERS } from '../../src/wireFrames.js';
import { freePorts, waitFor } from './support.js';

const heartbeat = (term: number): RaftMessage => ({ type: 'AppendEntries', term, prevLogIndex: 0, prevLogTerm: 0, entries: [], leaderCommit: 0, round: 1 });

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function pair() {
  const [p1, p2] = await freePorts(2);
  const hosts = [
    new Http2HostNetwork({ id: 'n1', clusterId: 'hosts', peers: { n2: `127.0.0.1:${p2}` }, listen: { port: p1! } }),
    new Http2HostNetwork({ id: 'n2', clusterId: 'hosts', peers: { n1: `127.0.0.1:${p1}` }, listen: { port: p2! } }),
  ] as const;
  await Promise.all(hosts.map((host) => host.listen()));
  const messages: { from: string; group: GroupId; message: RaftMessage }[] = [];
  const signals: HostSignal[] = [];
  hosts[0].attach({ received: () => undefined, signalled: () => undefined, unreachable: () => undefined });
  hosts[1].attach({ received: (from, group, message) => messages.push({ from, group, message }), signalled: (_from, signal) => signals.push(signal), unreachable: () => undefined });
  cleanups.push(() => Promise.all(hosts.map((host) => host.close())).then(() => undefined));
  return { hosts, messages, signals, port: p2! };
}

describe('Http2HostNetwork', () => {
  it('carries the messages of many groups and the host signals of one turn in one frame', async () => {
    const { hosts, messages, signals } = await pair();
    // Open the stream first, so that the turn below is one frame on it.
    hosts[0].signal('n2', { type: 'beat', incarnation: 'a' });
    await waitFor(() => signals.length === 1, 'the first beat');
    const before = hosts[0].stats.framesSent;
    for (let group = 0; group < 100; group++) hosts[0].send('n2', `g${group}`, heartbeat(group + 1));
    hosts[0].signal('n2', { type: 'quiesce', group: 'g7', term: 8, commit: 0 });
    await waitFor(() => messages.length === 100 && signals.length === 2, 'a hundred groups and a signal');
    expect(hosts[0].stats.framesSent - before).toBe(1);
    expect(messages.map(({ group }) => group)).toEqual(Array.from({ length: 100 }, (_, group) => `g${group}`));
    expect(messages.every(({ from, group, message }) => from === 'n1' && message.term === Number(group.slice(1)) + 1)).toBe(true);
    expect(signals[1]).toEqual({ type: 'quiesce', group: 'g7', term: 8, commit: 0 });
  });

  it('refuses a frame with a malformed signal or a batch without a group, and delivers nothing of it', async () => {
    const { hosts, messages, signals, port } = await pair();
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    cleanups.push(() => void session.destroy());
    const headers = { ':method': 'POST', ':path': STREAM_PATH, 'content-type': FRAMES_CONTENT_TYPE, [STREAM_HEADERS.cluster]: 'hosts', [STREAM_HEADERS.from]: 'n1', [STREAM_HEADERS.to]: 'n2' };
    const sendOnNewStream = (frame: Buffer): Promise<number> =>
      new Promise((resolve) => {
        const stream = session.request(headers, { endStream: false });
        stream.on('error', () => undefined);
        stream.on('close', () => resolve(stream.rstCode ?? 0));
        stream.write(frame);
      });
    const bad = [
      encodeFrame({ batches: [{ group: 'g1', messages: [heartbeat(1)] }], signals: [{ type: 'quiesce', group: 'g1', term: -1, commit: 0 }] }),
      encodeFrame({ batches: [{ group: '', messages: [heartbeat(1)] }], signals: [] }),
    ];
    for (const frame of bad) expect(await sendOnNewStream(frame)).toBe(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    expect(messages).toEqual([]);
    expect(signals).toEqual([]);
    expect(hosts[1].stats.requestsRefused).toBe(2);
  });
});
