#!/usr/bin/env node
/**
 * `xraft-node`: run one Raft node (the built-in key-value state machine) as a process.
 *
 *   xraft-node --config node.json
 *   xraft-node --id n1 --cluster-id demo --listen 127.0.0.1:4001 --peers n2=127.0.0.1:4002,n3=127.0.0.1:4003 \
 *              --data-dir ./data/n1 [--tls-cert n1.crt --tls-key n1.key --tls-ca ca.crt]
 *
 * `GET /metrics` serves Prometheus metrics; `--dashboard-feed` adds `GET /dashboard/feed` (SSE); both on the listen
 * port, which speaks HTTP/2.
 * Flags override the config file field by field. Once listening it prints one JSON line to stdout:
 * `{"event":"listening","id":"n1","port":4001}`; logs go to stderr. SIGTERM or SIGINT shut it down gracefully
 * (exit 0); a second signal exits at once. Startup errors print one line and exit with status 2.
 */
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, NodeProcessError, parsePeers, type NodeProcessConfigInput } from './config.js';
import { startNodeProcess } from './runNode.js';

const positiveInt = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('expected a positive integer');
  return parsed;
};

const program = new Command('xraft-node')
  .description('Run one xraft node: a replicated key-value store over HTTP/2')
  .option('-c, --config <file>', 'JSON config file (see src/process/config.ts)')
  .option('--id <id>', 'this node id')
  .option('--cluster-id <id>', 'cluster id, the same on every node')
  .option('--listen <host:port>', 'address to listen on for peers and clients')
  .option('--peers <list>', 'the other members: id=host:port,...')
  .option('--data-dir <dir>', 'directory of the durable log')
  .option('--log-store <level|file>', 'the log store of a new data directory: level (LevelDB, default) or file')
  .option('--tls-cert <file>', 'TLS certificate (PEM)')
  .option('--tls-key <file>', 'TLS private key (PEM)')
  .option('--tls-ca <file>', 'CA that signs peer certificates (PEM)')
  .option('--no-require-client-cert', 'with TLS, accept clients without a certificate (no mutual TLS)')
  .option('--tls-peer-identity <mode>', "'common-name': a peer's certificate CN must be the id it sends as")
  .option('--election-timeout-ms <ms>', 'base election timeout', positiveInt)
  .option('--heartbeat-interval-ms <ms>', 'heartbeat interval', positiveInt)
  .option('--peer-timeout-ms <ms>', 'a peer silent this long gets a new session', positiveInt)
  .option('--max-body-bytes <n>', 'largest request body accepted (413 beyond)', positiveInt)
  .option('--dashboard-feed', "serve the node's inspection events and status at GET /dashboard/feed (SSE)")
  .showHelpAfterError();

interface Flags {
  config?: string;
  id?: string;
  clusterId?: string;
  listen?: string;
  peers?: string;
  dataDir?: string;
  logStore?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  requireClientCert: boolean;
  tlsPeerIdentity?: string;
  electionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  peerTimeoutMs?: number;
  maxBodyBytes?: number;
  dashboardFeed?: true;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  program.parse();
  const flags = program.opts<Flags>();
  const overrides: Partial<NodeProcessConfigInput> = {
    id: flags.id,
    clusterId: flags.clusterId,
    listen: flags.listen,
    peers: flags.peers === undefined ? undefined : parsePeers(flags.peers),
    dataDir: flags.dataDir,
    logStore: flags.logStore as 'level' | 'file' | undefined, // validated with the config
    dashboardFeed: flags.dashboardFeed,
    tls:
      flags.tlsCert === undefined && flags.tlsKey === undefined
        ? undefined
        : {
            cert: flags.tlsCert ?? '',
            key: flags.tlsKey ?? '',
            ca: flags.tlsCa,
            requireClientCert: flags.requireClientCert,
            peerIdentity: flags.tlsPeerIdentity as 'none' | 'common-name' | undefined, // validated with the config
          },
    raft: flags.electionTimeoutMs === undefined && flags.heartbeatIntervalMs === undefined
      ? undefined
      : { electionTimeoutMs: flags.electionTimeoutMs, heartbeatIntervalMs: flags.heartbeatIntervalMs },
    network:
      flags.peerTimeoutMs === undefined && flags.maxBodyBytes === undefined
        ? undefined
        : { peerTimeoutMs: flags.peerTimeoutMs, maxBodyBytes: flags.maxBodyBytes },
  };
  const config = loadConfig(flags.config, overrides);
  const prefix = `[${config.id}]`;
  const running = await startNodeProcess(config, { log: (line) => log(`${prefix} ${line}`) });
  running.node.on('roleChanged', ({ role, term }) => log(`${prefix} ${role} in term ${term}`));
  // A peer's message that broke a protocol invariant changed nothing here; say who sent it.
  running.node.on('refused', ({ from, messageType, reason }) => log(`${prefix} refused ${messageType} from ${from}: ${reason}`));
  running.node.on('stopped', ({ error }) => {
    if (error === null) return;
    log(`${prefix} stopped on a failure: ${error}`);
    void running.stop().finally(() => process.exit(1));
  });
  process.stdout.write(`${JSON.stringify({ event: 'listening', id: config.id, port: running.port })}\n`);

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (++signals > 1) process.exit(1);
    log(`${prefix} ${signal}: shutting down`);
    running.stop().then(
      () => {
        log(`${prefix} stopped`);
        process.exit(0);
      },
      (error: unknown) => {
        log(`${prefix} shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof NodeProcessError) {
    log(`xraft-node: ${error.message}`);
    process.exit(2);
  }
  log(`xraft-node: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
