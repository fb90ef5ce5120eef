/**
 * `npm start`: a local three-node cluster of the key-value store (examples/kv), one process per node, on loopback.
 *
 * Data lives under `./data/n1`, `./data/n2`, `./data/n3`; run it again and the cluster recovers it. Each node's HTTP
 * address and process id are printed: curl any node, `kill -9` one and watch the others keep serving (the launcher
 * prints how to restart it). Ctrl-C (or SIGTERM) stops every node gracefully.
 *
 * The dashboard (src/dashboard) is printed as `dashboard http://127.0.0.1:PORT/`: every node's statechart and
 * RaftScope-style views, fed live by the nodes' inspection events, with controls to stop and restart a node, cut and
 * heal a link, send a command and transfer leadership.
 *
 * Flags, for tests and crowded machines: `--raft-ports 7001,7002,7003 --http-ports 8001,8002,8003 --data data
 * --dashboard-port 8080` (`--dashboard-port 0`: any free port); `npm start -- --help` lists them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { parseCommandLine, refuse } from '../src/cli/commandLine.js';
import { isPort } from '../src/process/index.js';
import { startDashboard } from '../src/dashboard/index.js';
import { httpControls } from './kv/dashboard.js';

const USAGE = `
npm start [-- --raft-ports 7001,7002,7003] [--http-ports 8001,8002,8003] [--data data] [--dashboard-port 8080]

A local three-node cluster of the key-value store, one process per node, on loopback, with its dashboard. Data
lives under <data>/n1, <data>/n2, <data>/n3 and is recovered on the next start. --dashboard-port 0 takes any
free port.
Ctrl-C stops every node.
`;

const { values } = parseCommandLine(USAGE, {
  options: {
    'raft-ports': { type: 'string', default: '7001,7002,7003' },
    'http-ports': { type: 'string', default: '8001,8002,8003' },
    data: { type: 'string', default: 'data' },
    'dashboard-port': { type: 'string', default: '8080' },
  },
});
const threePorts = (name: string, text: string): string[] => {
  const ports = text.split(',');
  if (ports.length !== 3 || !ports.every(isPort)) refuse(`--${name} takes three ports, comma-separated, not ${JSON.stringify(text)}`);
  return ports;
};
const raftPorts = threePorts('raft-ports', values['raft-ports']);
const httpPorts = threePorts('http-ports', values['http-ports']);
if (!isPort(values['dashboard-port'])) refuse(`--dashboard-port takes a port (0 for any free one), not ${JSON.stringify(values['dashboard-port'])}`);
const ids = ['n1', 'n2', 'n3'];
const peers = ids.map((id, i) => `${id}=127.0.0.1:${raftPorts[i]}`).join(',');
const main = resolve(import.meta.dirname, 'kv/main.ts');
const stopWithLauncher = import.meta.resolve('./stopWithLauncher.ts');
const argsOf = (id: string, i: number): string[] => [
  '--id', id, '--raft', `127.0.0.1:${raftPorts[i]}`, '--http', `127.0.0.1:${httpPorts[i]}`, '--peers', peers, '--data', `${values.data}/${id}`,
  '--dashboard-feed',
];

let stopping = false;
const spawnNode = (id: string, i: number): ChildProcess => {
  // stdin is a pipe only so that a node notices when this launcher is gone (see stopWithLauncher.ts).
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), '--import', stopWithLauncher, main, ...argsOf(id, i)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    if (chunk.toString('utf8').includes('"event":"listening"')) {
      console.log(`${id}  http://127.0.0.1:${httpPorts[i]}  (raft 127.0.0.1:${raftPorts[i]}, pid ${child.pid}, data ${values.data}/${id})`);
      if (++listening === ids.length) void ready();
      else if (listening > ids.length) console.log(`${id} restarted`);
    }
  });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.log(`${id} exited (${signal ?? `code ${code}`}); the others keep serving. Restart it with:\n  npm run kv -- ${argsOf(id, i).join(' ')}`);
    if (children.every((other) => other.exitCode !== null || other.signalCode !== null) && !restarting) process.exit(1);
  });
  return child;
};
const children: ChildProcess[] = ids.map(spawnNode);
const running = (): string[] => ids.filter((_, i) => children[i]!.exitCode === null && children[i]!.signalCode === null);
let restarting = false;

const viaHttp = httpControls((id) => (ids.includes(id) ? `127.0.0.1:${httpPorts[ids.indexOf(id)]}` : undefined), running);
const dashboard = await startDashboard({
  port: Number(values['dashboard-port']),
  title: 'local cluster (npm start)',
  sources: ids.map((id, i) => ({ kind: 'remote' as const, id, url: `http://127.0.0.1:${httpPorts[i]}/dashboard/feed` })),
  controls: {
    actions: ['stop', 'restart', 'cut', 'heal', 'command', 'transfer'],
    async run(request) {
      const i = ids.indexOf(request.node ?? '');
      if (request.action === 'stop') {
        if (i < 0 || !running().includes(ids[i]!)) throw new Error(`${request.node} is not running`);
        children[i]!.kill('SIGTERM');
        return { stopping: ids[i] };
      }
      if (request.action === 'restart') {
        if (i < 0 || running().includes(ids[i]!)) throw new Error(`${request.node} is running already`);
        restarting = true;
        children[i] = spawnNode(ids[i]!, i);
        restarting = false;
        return { restarting: ids[i] };
      }
      return viaHttp(request);
    },
  },
});
console.log(`dashboard ${dashboard.url}`);

let listening = 0;
/** Once every node listens and one of them leads, tell the user what to try. */
async function ready(): Promise<void> {
  for (let leader = null; leader === null && !stopping; ) {
    await new Promise((resolveLater) => setTimeout(resolveLater, 100));
    const status = await fetch(`http://127.0.0.1:${httpPorts[0]}/status`).then((answer) => answer.json() as Promise<{ leader: string | null }>, () => null);
    leader = status?.leader ?? null;
    if (leader !== null) console.log(`${leader} leads.`);
  }
  console.log(`
Try it:
  curl -X PUT http://127.0.0.1:${httpPorts[0]}/kv/greeting -d hello
  curl http://127.0.0.1:${httpPorts[1]}/kv/greeting
  curl http://127.0.0.1:${httpPorts[2]}/status
  kill -9 <a pid above>      # the other two keep serving
Ctrl-C stops the cluster.`);
}

const stop = (): void => {
  if (stopping) return;
  stopping = true;
  console.log('stopping...');
  const exits = children.map((child) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((done) => child.once('exit', () => done())),
  );
  for (const child of children) child.kill('SIGTERM');
  void dashboard.close();
  void Promise.all(exits).then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
