#!/usr/bin/env node
/**
 * `xraft`: look into a node's data directory and drive a running key-value cluster (examples/kv).
 *
 *   xraft describe logs DIR [--from N] [--limit N] [--width N]   the log entries of a (stopped) node, as a table
 *   xraft describe metadata DIR                                  identity, hard state, snapshot, configuration
 *   xraft status URL...                                          each node's role, term, leader and indexes
 *   xraft members list [--url URL]
 *   xraft members add ID --raft HOST:PORT --http HOST:PORT [--url URL]
 *   xraft members remove ID [--url URL]
 *   xraft transfer-leader [ID] [--url URL]
 *
 * `describe` never changes the directory (it reads a throwaway copy; see describe.ts). The cluster commands talk to
 * any node's HTTP API (`--url`, default `$XRAFT_URL` or http://127.0.0.1:8001); membership changes reach the leader.
 * Exit status: 0 on success, 1 when the cluster or the directory refused, 2 on bad usage.
 */
import { Command, InvalidArgumentError } from 'commander';
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
const defaultUrl = process.env.XRAFT_URL ?? 'http://127.0.0.1:8001';

/** One request to a node's HTTP API; a JSON error body becomes a CliError with its code. */
async function call(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(new URL(path, url.endsWith('/') ? url : `${url}/`), {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new CliError(`cannot reach ${url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`);
  }
  const text = await response.text();
  const parsed: unknown = text === '' ? null : (() => { try { return JSON.parse(text); } catch { return text; } })();
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    throw new CliError(`${url} answered ${response.status}${error === undefined ? `: ${text}` : ` ${error.code}: ${error.message}`}`);
  }
  return parsed;
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

interface NodeStatusAnswer {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: string[];
  learners: string[];
}

program
  .command('status <urls...>')
  .description("each node's role, term, leader, commit and applied index and members (GET /status)")
  .action(async (urls: string[]) => {
    const answers = await Promise.all(urls.map((url) => call(url, 'GET', 'status').then((status) => status as NodeStatusAnswer, (error: Error) => error)));
    const rows = answers.map((answer, at) =>
      answer instanceof Error
        ? ['?', 'unreachable', '', '', '', '', '', '', urls[at]!]
        : [answer.id, answer.role, String(answer.term), answer.leader ?? '-', String(answer.commitIndex), String(answer.appliedIndex),
          answer.members.join(','), answer.learners.join(',') || '-', urls[at]!],
    );
    print(formatTable(['NODE', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'VOTERS', 'LEARNERS', 'URL'], rows));
    if (answers.some((answer) => answer instanceof Error)) process.exitCode = 1;
  });

const members = program.command('members').description('list, add or remove members (changes are made by the leader)');
members
  .command('list')
  .option('--url <url>', 'any node', defaultUrl)
  .action(async ({ url }: { url: string }) => {
    const answer = (await call(url, 'GET', 'admin/members')) as { voters: string[]; learners: string[]; addresses: Record<string, { raft: string; http: string }> };
    const row = (id: string, role: string): string[] => [id, role, answer.addresses[id]?.raft ?? '?', answer.addresses[id]?.http ?? '?'];
    print(formatTable(['ID', 'ROLE', 'RAFT', 'HTTP'], [...answer.voters.map((id) => row(id, 'voter')), ...answer.learners.map((id) => row(id, 'learner'))]));
  });
members
  .command('add <id>')
  .description('add a learner, promoted to voter once it has caught up; start it with --peers naming the members')
  .requiredOption('--raft <host:port>', "the new node's raft address")
  .requiredOption('--http <host:port>', "the new node's HTTP address")
  .option('--url <url>', 'any node', defaultUrl)
  .action(async (id: string, { raft, http, url }: { raft: string; http: string; url: string }) => {
    const answer = (await call(url, 'POST', 'admin/members', { id, raft, http })) as { voters: string[]; learners: string[] };
    print(`added ${id} as a learner; voters ${answer.voters.join(',')}, learners ${answer.learners.join(',')}`);
  });
members
  .command('remove <id>')
  .option('--url <url>', 'any node', defaultUrl)
  .action(async (id: string, { url }: { url: string }) => {
    await call(url, 'DELETE', `admin/members/${encodeURIComponent(id)}`);
    print(`removed ${id}`);
  });

program
  .command('transfer-leader [id]')
  .description('hand leadership to ID (default: the most up-to-date voter)')
  .option('--url <url>', 'any node', defaultUrl)
  .action(async (id: string | undefined, { url }: { url: string }) => {
    const answer = (await call(url, 'POST', 'admin/transfer-leader', id === undefined ? {} : { to: id })) as { leader: string };
    print(`leader: ${answer.leader}`);
  });

program.parseAsync().catch((error: unknown) => {
  if (error instanceof CliError || error instanceof DescribeError) {
    process.stderr.write(`xraft: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`xraft: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
