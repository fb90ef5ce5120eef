/**
 * The example commands refuse a mistake in their flags with one line naming it, before starting anything, and answer
 * --help with their usage: never a stack trace, never a node started on half-understood flags.
 */
import { describe, expect, it } from 'vitest';
import { runScript } from './support.js';

const noStackTrace = (text: string): void => expect(text).not.toMatch(/\n\s+at /);

describe('command lines', () => {
  it('npm run kv refuses malformed addresses and peer lists, peers that leave this node out, and unknown log stores', { timeout: 30_000 }, async () => {
    const base = ['--id', 'n1', '--raft', '127.0.0.1:1', '--http', '127.0.0.1:2'];
    const cases: [readonly string[], RegExp][] = [
      [['--id', 'n1', '--raft', '127.0.0.1:x', '--http', '127.0.0.1:2'], /'--raft <host:port>' argument '127\.0\.0\.1:x' is invalid/],
      [[...base, '--peers', 'garbage'], /'--peers <list>' argument 'garbage' is invalid/],
      [[...base, '--peers', 'n1=127.0.0.1:1,n1=127.0.0.1:3'], /"n1" is named twice/],
      [[...base, '--peers', 'n1=127.0.0.1:x'], /'--peers <list>' argument 'n1=127\.0\.0\.1:x' is invalid/],
      [[...base, '--peers', 'n2=127.0.0.1:3'], /--peers must name this node \(n1\) too/],
      [[...base, '--log-store', 'rocks'], /'--log-store <file\|level>' argument 'rocks' is invalid/],
    ];
    const results = await Promise.all(cases.map(([args]) => runScript('examples/kv/main.ts', args)));
    results.forEach(({ code, stdout, stderr }, at) => {
      expect(code, cases[at]![0].join(' ')).toBe(1);
      expect(stderr).toMatch(cases[at]![1]);
      expect(stdout).not.toContain('listening');
      noStackTrace(stderr);
    });
  });

  it('npm start and the dashboard answer --help, and refuse bad ports in one line', { timeout: 30_000 }, async () => {
    const [help, ports, dashboardPort, follow] = await Promise.all([
      runScript('examples/local-cluster.ts', ['--help']),
      runScript('examples/local-cluster.ts', ['--raft-ports', '7001,7002']),
      runScript('src/dashboard/cli.ts', ['--port', 'x']),
      runScript('src/dashboard/cli.ts', ['--follow', 'n1']),
    ]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^npm start \[-- --raft-ports/);
    for (const [result, message] of [
      [ports, 'error: --raft-ports takes three ports'],
      [dashboardPort, 'error: --port is a port number'],
      [follow, 'error: --follow takes id=host:port entries'],
    ] as const) {
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      noStackTrace(result.stderr);
    }
  });
});
