/**
 * `xraft-node` refuses to start with one clear line and exit status 2 on a bad config, a port in use or a data
 * directory it cannot use; it opens the log store its data directory holds; `loadConfig` merges a file with flags.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { loadConfig, NodeProcessError, parsePeers } from '../../src/process/config.js';
import { startNodeProcess } from '../../src/process/runNode.js';

const repoRoot = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'xraft-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/process/cli.ts'), ...args], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stderr });
    });
  });
}

const base = (port: number, dataDir = join(dir, 'data')): string[] =>
  ['--id', 'n1', '--cluster-id', 'c', '--listen', `127.0.0.1:${port}`, '--peers', 'n2=127.0.0.1:1', '--data-dir', dataDir];

describe('xraft-node startup errors', () => {
  it('says which port is in use, which data directory is unusable, and what is wrong with a config', { timeout: 30_000 }, async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolveListen) => blocker.listen(0, '127.0.0.1', resolveListen));
    const busy = (blocker.address() as net.AddressInfo).port;
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a directory');
    const badConfig = join(dir, 'bad.json');
    writeFileSync(badConfig, JSON.stringify({ id: 'n1', clusterId: 'c', listen: 'nowhere', peers: { n2: '127.0.0.1:1' }, dataDir: 'd', raft: { electionTimeoutMs: -5 } }));
    try {
      const [portInUse, dataDir, config, unknownOption] = await Promise.all([
        run(base(busy, join(dir, 'ok'))),
        run(base(0, file)),
        run(['--config', badConfig]),
        run([...base(0), '--bogus']),
      ]);
      expect(portInUse).toMatchObject({ code: 2 });
      expect(portInUse.stderr).toContain(`cannot listen on 127.0.0.1:${busy}: the port is already in use`);
      expect(dataDir).toMatchObject({ code: 2 });
      expect(dataDir.stderr).toContain(`the data directory ${file} cannot be used`);
      expect(config).toMatchObject({ code: 2 });
      expect(config.stderr).toMatch(/bad config: listen: expected host:port.*; raft\.electionTimeoutMs: Too small/);
      expect(unknownOption.code).not.toBe(0);
      expect(unknownOption.stderr).toContain("unknown option '--bogus'");
    } finally {
      blocker.close();
    }
  });
});

describe('xraft-node log store', () => {
  it('opens the kind a data directory holds, takes logStore for a new one, and refuses the other kind or an unknown one', { timeout: 30_000 }, async () => {
    const dataDir = join(dir, 'file-store');
    const config = (logStore?: 'file' | 'level') => loadConfig(undefined, { id: 'n1', clusterId: 'c', listen: '127.0.0.1:0', peers: { n2: '127.0.0.1:1' }, dataDir, ...(logStore === undefined ? {} : { logStore }) });
    const first = await startNodeProcess(config('file'));
    expect(first.store).toBeInstanceOf(FileLogStore);
    await first.stop();
    expect(existsSync(join(dataDir, 'log'))).toBe(true);
    const again = await startNodeProcess(config());
    expect(again.store).toBeInstanceOf(FileLogStore);
    await again.stop();
    await expect(startNodeProcess(config('level'))).rejects.toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('holds a file log store, not a level one') });
    expect(existsSync(join(dataDir, 'CURRENT'))).toBe(false);
    const unknown = await run([...base(0, join(dir, 'other')), '--log-store', 'rocks']);
    expect(unknown).toMatchObject({ code: 2 });
    expect(unknown.stderr).toMatch(/bad config: logStore: /);
  });
});

describe('parsePeers', () => {
  it('takes id=host:port entries and refuses a malformed one or an id named twice', () => {
    expect(parsePeers(' n2=127.0.0.1:4002, n3=[::1]:4003 ,')).toEqual({ n2: '127.0.0.1:4002', n3: '[::1]:4003' });
    expect(() => parsePeers('garbage')).toThrow(/bad peer "garbage": expected id=host:port/);
    expect(() => parsePeers('n2=127.0.0.1:1,n2=127.0.0.1:2')).toThrow(/"n2" is named twice/);
  });
});

describe('loadConfig', () => {
  it('lets flags override the file field by field and resolves paths against the file', () => {
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({
      id: 'n1', clusterId: 'c', listen: '127.0.0.1:4001', peers: { n2: '127.0.0.1:4002' }, dataDir: 'data/n1',
      tls: { cert: 'n1.crt', key: 'n1.key' }, network: { peerTimeoutMs: 500 },
    }));
    const config = loadConfig(file, { listen: '0.0.0.0:5001', network: { keepAliveMs: 100, peerTimeoutMs: undefined } });
    expect(config).toMatchObject({
      listen: '0.0.0.0:5001',
      dataDir: join(dir, 'data/n1'),
      tls: { cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key'), requireClientCert: true, peerIdentity: 'none' },
      network: { peerTimeoutMs: 500, keepAliveMs: 100 },
    });
    expect(() => loadConfig(undefined, { id: 'n1' })).toThrow(NodeProcessError);
    expect(() => loadConfig(join(dir, 'missing.json'))).toThrow(/cannot read the config file/);
  });
});
