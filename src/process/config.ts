/**
 * The configuration of a node process, from a JSON file and/or command-line flags, validated with zod.
 *
 * @example
 * // node.json
 * {
 *   "id": "n1",
 *   "clusterId": "prod",
 *   "listen": "0.0.0.0:4001",
 *   "peers": { "n2": "10.0.0.2:4001", "n3": "10.0.0.3:4001" },
 *   "dataDir": "/var/lib/xraft/n1",
 *   "tls": { "cert": "n1.crt", "key": "n1.key", "ca": "ca.crt" }
 * }
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { summarizeIssues } from '../wire.js';

/** Why a node process could not start, with a stable code; the CLI prints the message and exits with status 2. */
export class NodeProcessError extends Error {
  constructor(
    readonly code: 'BAD_CONFIG' | 'DATA_DIR_UNUSABLE' | 'PORT_IN_USE' | 'LISTEN_FAILED' | 'TLS_FILES_UNREADABLE' | 'STORE_FAILED',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'NodeProcessError';
  }
}

const nodeId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'ids are 1 to 64 letters, digits, dots, dashes or underscores');
/** A port number as text: digits only, 0 to 65535. */
export function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) <= 65_535;
}

/** `host:port` or `[v6]:port`, the port 0 to 65535. */
export function isAddress(value: string): boolean {
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) && isPort(value.slice(value.lastIndexOf(':') + 1));
}

const address = z.string().refine(isAddress, 'expected host:port (port 0 to 65535)');
const milliseconds = z.number().int().positive().max(3_600_000);

export const nodeProcessConfigSchema = z
  .strictObject({
    /** This node's id. */
    id: nodeId,
    /** Every node of the cluster is configured with the same id; requests from another cluster are refused. */
    clusterId: z.string().min(1).max(256),
    /** Where this node listens for peers and clients: `host:port`. */
    listen: address,
    /** The other members: id -> `host:port`. An entry for this node itself is ignored. */
    peers: z.record(nodeId, address),
    /** The directory of the log; created when missing. */
    dataDir: z.string().min(1),
    /**
     * The log store of a new data directory: `level` (LevelDB, the default) or `file` (FileLogStore: one file synced on
     * the event loop; less CPU per write, for SSDs). A directory that holds one keeps it; naming the other is refused.
     */
    logStore: z.enum(['level', 'file']).optional(),
    /** TLS between nodes (and for clients). Paths are relative to the config file, or to the working directory. */
    tls: z
      .strictObject({
        cert: z.string().min(1),
        key: z.string().min(1),
        ca: z.string().min(1).optional(),
        /** Mutual TLS: refuse connections without a client certificate signed by `ca`. */
        requireClientCert: z.boolean().default(true),
        /** `common-name`: a peer's certificate CN must equal the node id it speaks for. */
        peerIdentity: z.enum(['none', 'common-name']).default('none'),
      })
      .optional(),
    raft: z
      .strictObject({ electionTimeoutMs: milliseconds, heartbeatIntervalMs: milliseconds })
      .partial()
      .default({}),
    /** Serve the node's inspection events and status at `GET /dashboard/feed` (SSE) for a dashboard to follow. */
    dashboardFeed: z.boolean().default(false),
    network: z
      .strictObject({
        peerTimeoutMs: milliseconds,
        keepAliveMs: milliseconds,
        maxBodyBytes: z.number().int().min(1024).max(2 ** 30),
      })
      .partial()
      .default({}),
  })
  .refine(({ id, peers }) => Object.keys(peers).some((peer) => peer !== id), { message: 'at least one peer is needed', path: ['peers'] })
  .refine(
    ({ raft }) => (raft.heartbeatIntervalMs ?? 100) < (raft.electionTimeoutMs ?? 1000),
    { message: 'heartbeatIntervalMs must be below electionTimeoutMs', path: ['raft'] },
  );

export type NodeProcessConfig = z.output<typeof nodeProcessConfigSchema>;
/** What a config file or the flags may say before defaults are applied. */
export type NodeProcessConfigInput = z.input<typeof nodeProcessConfigSchema>;

/**
 * Parse `n2=10.0.0.2:4001,n3=10.0.0.3:4001` into a record, each id once; the addresses are checked by the caller
 * (`isAddress`, or with the rest of the config).
 */
export function parsePeers(text: string): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const part of text.split(',').map((piece) => piece.trim()).filter((piece) => piece !== '')) {
    const at = part.indexOf('=');
    if (at <= 0) throw new NodeProcessError('BAD_CONFIG', `bad peer ${JSON.stringify(part)}: expected id=host:port`);
    const id = part.slice(0, at);
    if (id in peers) throw new NodeProcessError('BAD_CONFIG', `bad peers: ${JSON.stringify(id)} is named twice`);
    peers[id] = part.slice(at + 1);
  }
  return peers;
}

/** `parsePeers`, every address checked as well (`isAddress`): for command lines that take such a list. */
export function parseAddresses(text: string): Record<string, string> {
  const peers = parsePeers(text);
  for (const [id, at] of Object.entries(peers)) {
    if (!isAddress(at)) throw new NodeProcessError('BAD_CONFIG', `bad address ${JSON.stringify(`${id}=${at}`)}: expected id=host:port (port 0 to 65535)`);
  }
  return peers;
}

/**
 * Read the config file (when given), let `overrides` (the flags) win field by field, and validate the result.
 * TLS paths in the file are resolved against the file's directory.
 */
export function loadConfig(file: string | undefined, overrides: Partial<NodeProcessConfigInput> = {}): NodeProcessConfig {
  let fromFile: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new NodeProcessError('BAD_CONFIG', `cannot read the config file ${file}: ${(error as Error).message}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new NodeProcessError('BAD_CONFIG', `the config file ${file} is not JSON: ${(error as Error).message}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new NodeProcessError('BAD_CONFIG', `the config file ${file} must hold a JSON object`);
    }
    fromFile = parsed as Record<string, unknown>;
    const tls = fromFile.tls as Record<string, unknown> | undefined;
    if (typeof tls === 'object' && tls !== null) {
      const base = dirname(resolve(file));
      const relative = (value: unknown): unknown => (typeof value === 'string' ? resolve(base, value) : value);
      fromFile.tls = { ...tls, cert: relative(tls.cert), key: relative(tls.key), ...(tls.ca === undefined ? {} : { ca: relative(tls.ca) }) };
    }
    if (typeof fromFile.dataDir === 'string') fromFile.dataDir = resolve(dirname(resolve(file)), fromFile.dataDir);
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const previous = merged[key];
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      // A flag left out (undefined) must not erase what the file says.
      const given = Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
      merged[key] = typeof previous === 'object' && previous !== null ? { ...(previous as object), ...given } : given;
    } else merged[key] = value;
  }
  const result = nodeProcessConfigSchema.safeParse(merged);
  if (!result.success) throw new NodeProcessError('BAD_CONFIG', `bad config: ${summarizeIssues(result.error.issues, 5)}`);
  return result.data;
}

/** Split `host:port` / `[v6]:port`. */
export function splitAddress(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const host = value.slice(0, at);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(value.slice(at + 1)) };
}
