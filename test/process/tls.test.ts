/**
 * A three-process cluster over mutual TLS with certificates made for the test: it elects and replicates; a client
 * without a certificate, with a certificate of another CA, or speaking plain HTTP/2 is refused; and with
 * `--tls-peer-identity common-name` a member's certificate cannot speak for another member.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MESSAGES_PATH } from '../../actors/network/Http2Network.js';
import { encodeBatch } from '../../src/wire.js';
import { RawClient } from '../network/support.js';
import { makeCertificates, type CertificateFiles } from './certs.js';
import { ProcessCluster, proposal } from './support.js';

let certs: CertificateFiles;
let strangers: CertificateFiles;
let cluster: ProcessCluster;

beforeAll(async () => {
  certs = makeCertificates(['n1', 'n2', 'n3', 'client']);
  strangers = makeCertificates(['client'], 'another-ca');
  const read = (path: string): Buffer => readFileSync(path);
  cluster = await ProcessCluster.start({
    clusterId: 'tls',
    tls: {
      flags: (id) => ['--tls-cert', certs.certs[id]!.cert, '--tls-key', certs.certs[id]!.key, '--tls-ca', certs.ca, '--tls-peer-identity', 'common-name'],
      client: { ca: read(certs.ca), cert: read(certs.certs.client!.cert), key: read(certs.certs.client!.key) },
    },
  });
});

afterAll(async () => {
  await cluster?.stop();
  for (const files of [certs, strangers]) if (files !== undefined) rmSync(files.dir, { recursive: true, force: true });
});

/** Whether a request through `client` gets any HTTP answer at all. */
async function answered(client: RawClient): Promise<number | string> {
  try {
    return (await client.request('GET', '/xraft/v1/client/status', undefined, {}, 3000)).status;
  } catch (error) {
    return `refused: ${(error as Error).message}`;
  } finally {
    client.close();
  }
}

it('runs a cluster over mutual TLS and refuses clients without a valid certificate', { timeout: 40_000 }, async () => {
  const leader = await cluster.leader();
  for (let i = 0; i < 10; i++) {
    const answer = await leader.request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key: `k${i}`, value: `${i}` }));
    expect(answer.status, answer.body).toBe(200);
  }
  const { commitIndex } = (await leader.status())!;
  await cluster.appliedEverywhere(commitIndex);
  for (const node of cluster.nodes) expect((await node.entries()).k9).toBe('9');

  const authority = leader.authority;
  const ca = readFileSync(certs.ca);
  expect(await answered(new RawClient(authority, { ca }))).toMatch(/^refused/);
  expect(
    await answered(new RawClient(authority, { ca, cert: readFileSync(strangers.certs.client!.cert), key: readFileSync(strangers.certs.client!.key) })),
  ).toMatch(/^refused/);
  expect(await answered(new RawClient(authority.replace('https:', 'http:')))).toMatch(/^refused/);
  expect(await answered(new RawClient(authority, { ca, cert: readFileSync(certs.certs.client!.cert), key: readFileSync(certs.certs.client!.key) }))).toBe(200);

  // n3's certificate may speak for n3 only. A stale-term message from n3 is delivered (the core answers it per Raft).
  const asN3 = new RawClient(authority, { ca, cert: readFileSync(certs.certs.n3!.cert), key: readFileSync(certs.certs.n3!.key) });
  try {
    const to = leader.id;
    const vote = { type: 'RequestVote', term: 0, lastLogIndex: 0, lastLogTerm: 0, preVote: true } as const;
    const impostor = await asN3.request('POST', MESSAGES_PATH, encodeBatch({ clusterId: 'tls', from: to === 'n2' ? 'n1' : 'n2', to, messages: [vote] }));
    expect(impostor.status).toBe(403);
    expect(JSON.parse(impostor.body).error.code).toBe('IDENTITY_MISMATCH');
    const self = await asN3.request('POST', MESSAGES_PATH, encodeBatch({ clusterId: 'tls', from: 'n3', to, messages: [vote] }));
    expect(self.status).toBe(to === 'n3' ? 403 : 204);
  } finally {
    asN3.close();
  }
});
