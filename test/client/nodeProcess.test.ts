/**
 * `xraft/client` against three `xraft-node` processes over mutual TLS: the same client that drives the KV example
 * drives the framework's runner, follows its leader through a SIGKILL, and is refused without a client certificate.
 */
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyValueCommand } from '../../src/process/index.js';
import { createClient, TimeoutError } from '../../src/client/index.js';
import { makeCertificates, type CertificateFiles } from '../process/certs.js';
import { ProcessCluster } from '../process/support.js';

let certs: CertificateFiles;
let cluster: ProcessCluster;

beforeAll(async () => {
  certs = makeCertificates(['n1', 'n2', 'n3', 'client']);
  const read = (path: string): Buffer => readFileSync(path);
  cluster = await ProcessCluster.start({
    clusterId: 'client-tls',
    tls: {
      flags: (id) => ['--tls-cert', certs.certs[id]!.cert, '--tls-key', certs.certs[id]!.key, '--tls-ca', certs.ca],
      client: { ca: read(certs.ca), cert: read(certs.certs.client!.cert), key: read(certs.certs.client!.key) },
    },
  });
}, 20_000);

afterAll(async () => {
  await cluster?.stop();
  if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
});

it('proposes to xraft-node over mutual TLS, follows its leader through a SIGKILL, and needs a client certificate', { timeout: 30_000 }, async () => {
  const nodes = cluster.nodes.map((node) => `127.0.0.1:${node.port}`);
  const tls = { ca: readFileSync(certs.ca), cert: readFileSync(certs.certs.client!.cert), key: readFileSync(certs.certs.client!.key) };
  const client = createClient<KeyValueCommand, string | null>({ nodes, tls, timeoutMs: 10_000 });
  const stranger = createClient<KeyValueCommand, string | null>({ nodes, tls: { ca: tls.ca }, timeoutMs: 1000 });
  try {
    expect(await client.propose({ op: 'set', key: 'a', value: '1' })).toBeNull(); // the value before
    expect(await client.propose({ op: 'set', key: 'a', value: '2' })).toBe('1');
    const status = await client.status();
    expect(status.role).toBe('leader');
    expect(Object.keys(status.addresses).sort()).toEqual(['n1', 'n2', 'n3']);

    const leader = await cluster.leader();
    expect(client.leaderAddress).toBe(`127.0.0.1:${leader.port}`);
    await leader.kill();
    const session = await client.openSession();
    expect(await session.propose({ op: 'set', key: 'a', value: '3' })).toBe('2');
    expect(client.leaderAddress).not.toBe(`127.0.0.1:${leader.port}`);

    await expect(stranger.status()).rejects.toBeInstanceOf(TimeoutError);
  } finally {
    client.close();
    stranger.close();
  }
});
