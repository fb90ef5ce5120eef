#!/usr/bin/env node
/**
 * `xraft`: look into a node's data directory and drive a running cluster through `xraft/client`.
 *
 *   xraft describe logs DIR [--from N] [--limit N] [--width N]   the log entries of a (stopped) node, as a table
 *   xraft describe metadata DIR                                  identity, hard state, snapshot, configuration
 *   xraft status NODE...                                         each node's role, term, leader and indexes
 *   xraft members list [--nodes LIST]
 *   xraft members add ID --address HOST:PORT [--no-promote] [--nodes LIST]
 *   xraft members remove ID [--nodes LIST]
 *   xraft transfer-leader [ID] [--nodes LIST]
 *   xraft propose JSON [--nodes LIST]                             propose a command (JSON) and print the result
 *
 * `describe` never changes the directory (it reads a throwaway copy; see describe.ts). The cluster commands speak the
 * client API that every xraft process (the KV example, `xraft-node`) serves on its raft port: NODE and `--nodes`
 * (comma-separated; default `$XRAFT_NODES` or 127.0.0.1:7001) are raft addresses, and the client finds the leader
 * from any of them. `--tls-ca`, `--tls-cert` and `--tls-key` (or `$XRAFT_TLS_CA`, ...) reach nodes that serve TLS.
 * Exit status: 0 on success, 1 when the cluster or the directory refused, 2 on bad usage.
 */
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import { createClient, RemoteError, XraftError, type ClientTlsOptions, type XraftClient } from '../client/index.js';
import { describeEntryData, DescribeError, lastConfiguration, readDataDirectory } from './describe.js';
import { formatPairs, formatTable, truncate } from './table.js';

/** A refusal worth one line on stderr, not a stack trace. */
class CliError extends Error {}

const count = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
};
const print = (text: string): void => void process.stdout.write(`${text}\n`);
const defaultNodes = process.env.XRAFT_NODES ?? '127.0.0.1:7001';

interface ClusterFlags {
  nodes: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** A client of the cluster the flags name; closed once `use` settles. Refusals become one line on stderr. */
async function withClient<T>(flags: ClusterFlags, use: (client: XraftClient<unknown, unknown>) => Promise<T>): Promise<T> {
  const file = (path: string | undefined): Buffer | undefined => (path === undefined ? undefined : readFileSync(path));
  const ca = flags.tlsCa ?? process.env.XRAFT_TLS_CA;
  const cert = flags.tlsCert ?? process.env.XRAFT_TLS_CERT;
  const key = flags.tlsKey ?? process.env.XRAFT_TLS_KEY;
  const tls: ClientTlsOptions | undefined = ca === undefined && cert === undefined ? undefined : { ca: file(ca), cert: file(cert), key: file(key) };
  const nodes = flags.nodes.split(',').map((node) => node.trim()).filter((node) => node !== '');
  const client = createClient<unknown, unknown>({ nodes, tls, timeoutMs: 15_000 });
  try {
    return await use(client);
  } catch (error) {
    throw refusal(error, nodes);
  } finally {
    client.close();
  }
}

/** What the cluster said, in one line: the error's code (and membership reason) and message. */
function refusal(error: unknown, nodes: readonly string[]): unknown {
  if (error instanceof XraftError) {
    const reason = 'reason' in error ? ` ${String(error.reason)}` : '';
    const unreachable = error.code === 'TIMEOUT' && error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return new CliError(`${nodes.join(',')}: ${error.code}${reason}: ${error.message}${unreachable}`);
  }
  if (error instanceof RemoteError) return new CliError(`${nodes.join(',')}: ${error.code}: ${error.message}`);
  return error;
}

/** The cluster flags of a command. */
function clusterCommand(command: Command): Command {
  return command
    .option('--nodes <list>', 'raft addresses of some nodes, host:port,...', defaultNodes)
    .option('--tls-ca <file>', 'CA of the nodes\' certificates (PEM)')
    .option('--tls-cert <file>', 'client certificate (PEM), for mutual TLS')
    .option('--tls-key <file>', 'client key (PEM)');
}

const program = new Command('xraft').description('Inspect xraft data directories and drive a running key-value cluster').showHelpAfterError();

const describe = program.command('describe').description("describe a node's data directory (read from a copy; the directory is not changed)");
describe
  .command('logs <dir>')
  .description('the log entries: index, term, kind, data')
  .option('--from <index>', 'first index to show', count)
  .option('--limit <n>', 'most entries to show', count)
  .option('--width <n>', 'cut data to this many characters (0: never)', count, 100)
  .action(async (dir: string, flags: { from?: number; limit?: number; width: number }) => {
    const { state } = await readDataDirectory(dir);
    const shown = state.entries.filter((entry) => entry.index >= (flags.from ?? 0)).slice(0, flags.limit ?? Infinity);
    const rows = shown.map((entry) => {
      const data = describeEntryData(entry);
      return [String(entry.index), String(entry.term), entry.kind, flags.width === 0 ? data : truncate(data, flags.width)];
    });
    print(formatTable(['INDEX', 'TERM', 'KIND', 'DATA'], rows));
    const snapshot = state.snapshot == null ? '' : `, after a snapshot at index ${state.snapshot.index}`;
    print(`(${shown.length} of ${state.entries.length} entries${snapshot})`);
  });
describe
  .command('metadata <dir>')
  .description('identity, hard state, log bounds, snapshot and configuration')
  .action(async (dir: string) => {
    const directory = await readDataDirectory(dir);
    const { hardState, entries, snapshot } = directory.state;
    const configuration = lastConfiguration(directory);
    const list = (ids: readonly string[] | null): string => (ids === null || ids.length === 0 ? '-' : ids.join(','));
    print(formatPairs([
      ['cluster id', directory.clusterId],
      ['node id', directory.nodeId],
      ['term', String(hardState.term)],
      ['voted for', hardState.votedFor ?? '-'],
      ['commit index', String(hardState.commit)],
      ['first index', entries.length === 0 ? '-' : String(entries[0]!.index)],
      ['last index', String(entries.at(-1)?.index ?? snapshot?.index ?? 0)],
      ['last term', String(entries.at(-1)?.term ?? snapshot?.term ?? 0)],
      ['entries', String(entries.length)],
      ['snapshot', snapshot == null ? '-' : `index ${snapshot.index}, term ${snapshot.term}`],
      ['voters', list(configuration.voters)],
      ['learners', list(configuration.learners)],
      ['configuration from', configuration.source],
      ['bootstrap voters', list(directory.bootstrapVoters)],
    ]));
  });

clusterCommand(
  program
    .command('status <nodes...>')
    .description("each node's role, term, leader, commit and applied index and members (raft addresses)"),
).action(async (addresses: string[], flags: ClusterFlags) => {
  const answers = await withClient({ ...flags, nodes: addresses.join(',') }, (client) =>
    Promise.all(addresses.map((node) => client.status({ node, timeoutMs: 3000 }).catch((error: Error) => error))),
  );
  const rows = answers.map((answer, at) =>
    answer instanceof Error
      ? ['?', 'unreachable', '', '', '', '', '', '', addresses[at]!]
      : [answer.id, answer.role, String(answer.term), answer.leader ?? '-', String(answer.commitIndex), String(answer.appliedIndex),
        answer.members.join(','), answer.learners.join(',') || '-', addresses[at]!],
  );
  print(formatTable(['NODE', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'VOTERS', 'LEARNERS', 'ADDRESS'], rows));
  if (answers.some((answer) => answer instanceof Error)) process.exitCode = 1;
});

const members = program.command('members').description('list, add or remove members (changes are made by the leader)');
clusterCommand(members.command('list')).action(async (flags: ClusterFlags) => {
  const answer = await withClient(flags, (client) => client.members());
  const row = (id: string, role: string): string[] => [id, role, answer.addresses[id] ?? '?'];
  print(formatTable(['ID', 'ROLE', 'ADDRESS'], [...answer.voters.map((id) => row(id, 'voter')), ...answer.learners.map((id) => row(id, 'learner'))]));
});
clusterCommand(
  members
    .command('add <id>')
    .description('add a learner, promoted to voter once it has caught up (unless --no-promote)')
    .requiredOption('--address <host:port>', "the new node's raft address")
    .option('--no-promote', 'leave it a learner'),
).action(async (id: string, flags: ClusterFlags & { address: string; promote: boolean }) => {
  const answer = await withClient(flags, (client) => client.addLearner(id, { address: flags.address, promote: flags.promote }));
  print(`added ${id} as a learner; voters ${answer.voters.join(',')}, learners ${answer.learners.join(',') || '-'}`);
});
clusterCommand(members.command('remove <id>')).action(async (id: string, flags: ClusterFlags) => {
  await withClient(flags, (client) => client.removeMember(id));
  print(`removed ${id}`);
});

clusterCommand(program.command('transfer-leader [id]').description('hand leadership to ID (default: the most up-to-date voter)')).action(
  async (id: string | undefined, flags: ClusterFlags) => {
    const leader = await withClient(flags, (client) => client.transferLeadership(id));
    print(`leader: ${leader ?? '-'}`);
  },
);

clusterCommand(program.command('propose <json>').description("propose a command, given as JSON, and print the state machine's result as JSON")).action(
  async (json: string, flags: ClusterFlags) => {
    let command: unknown;
    try {
      command = JSON.parse(json);
    } catch (error) {
      throw new CliError(`the command is not JSON: ${(error as Error).message}`);
    }
    const result = await withClient(flags, (client) => client.propose(command));
    print(JSON.stringify(result ?? null));
  },
);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CliError || error instanceof DescribeError) {
    process.stderr.write(`xraft: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`xraft: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
