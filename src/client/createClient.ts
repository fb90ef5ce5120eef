/**
 * `xraft/client`: talk to an xraft cluster from another process, through the client API every xraft process serves
 * on its raft port (src/clientApi.ts).
 *
 * The client finds the leader (any node's status names it and its address), sends there, and follows it: a
 * NOT_LEADER answer's `leaderAddress` (or hint) redirects the request, a node that cannot be reached makes it try the
 * next one, and all of it happens within the operation's deadline. What is retried depends on whether retrying is
 * safe: status and members always; a plain `propose` only when the command certainly did not reach a log (NOT_LEADER
 * `not-appended`, OVERLOADED, a connection that never opened); a session's `propose` always, since the state machine
 * applies each of its requests once however often it arrives (src/session.ts).
 */
import superjson from 'superjson';
import type { z } from 'zod';
import { createCommandCodec, type CommandCodec } from '../codec.js';
import { clientApiPaths, type ClientApiErrorBody, type ClientMembers, type ClientStatus, type ProposeRequest } from '../clientApi.js';
import type { NodeId, SessionTag } from '../core/index.js';
import {
  InvalidCommandError,
  MembershipChangeError,
  NotLeaderError,
  OverloadedError,
  RejectedError,
  SessionExpiredError,
  StoppedError,
  TimeoutError,
  TransferAbortedError,
  type XraftError,
  type XraftErrorCode,
} from '../errors.js';
import { ClientSession, type SessionOptions } from '../session.js';
import { ConnectionFailure, Connections, type ClientTlsOptions } from './connections.js';

export interface ClientOptions<Command> {
  /** Some of the cluster's nodes (`host:port` of their raft ports); the client learns the others from them. */
  readonly nodes: readonly string[];
  /** TLS, when the nodes serve it (mutual TLS: give `cert` and `key`). */
  readonly tls?: ClientTlsOptions;
  /** Commands are checked against it before they are sent (InvalidCommandError). Without it the nodes check them. */
  readonly commandSchema?: z.ZodType<Command>;
  /** Default deadline of every operation, retries included, in ms. Default 10,000. */
  readonly timeoutMs?: number;
  /** Longest wait for one answer before trying again. Default: the whole deadline that is left. */
  readonly attemptTimeoutMs?: number;
  /** Pause before trying again when no leader is known. Default 50 ms. */
  readonly retryDelayMs?: number;
}

export interface ClientProposeOptions {
  /** Give up after this long (ms) with TimeoutError (or the last error); the command may still commit later. */
  readonly timeoutMs?: number;
}

export interface XraftClient<Command, Result> {
  /**
   * Replicate `command` through the leader and resolve with the state machine's result. Rejects like
   * `RaftNode.propose`: NotLeaderError (no leader within the deadline, or lost with the outcome `unknown`),
   * RejectedError, InvalidCommandError, TimeoutError (it may still commit; use a session to retry safely),
   * OverloadedError, StoppedError.
   */
  propose(command: Command, options?: ClientProposeOptions): Promise<Result>;
  /** Open a client session: its proposals are applied exactly once, even when retried after a failure. */
  openSession(options?: SessionOptions): Promise<ClientSession<Command, Result>>;
  /** The leader's status (or, with `node`, that node's), with every member's address it knows. */
  status(options?: { readonly node?: string; readonly timeoutMs?: number }): Promise<ClientStatus>;
  /** The configuration in force on the leader, with the members' addresses. */
  members(): Promise<ClientMembers>;
  /**
   * Join the cluster: the leader adds a node that listens at `address` as a learner, recorded with its address in the
   * configuration, and promotes it once it has caught up. Without `id` the leader gives it one (raftify's
   * request_id): start the node with the id it answers. A taken id or address is refused (MembershipChangeError).
   */
  join(options: { readonly id?: NodeId; readonly address: string }): Promise<ClientMembers & { readonly id: NodeId }>;
  /** Add a learner (promoted once caught up with `promote`); `address` tells the leader where it listens. */
  addLearner(id: NodeId, options?: { readonly promote?: boolean; readonly address?: string }): Promise<ClientMembers>;
  promote(id: NodeId): Promise<ClientMembers>;
  removeMember(id: NodeId): Promise<ClientMembers>;
  /** Hand leadership to `target` (default: the most up-to-date voter); resolves with the new leader's id. */
  transferLeadership(target?: NodeId): Promise<NodeId | null>;
  /** The address the client currently takes for the leader's (null when it does not know). */
  readonly leaderAddress: string | null;
  /** Close the connections; operations in flight fail. */
  close(): void;
}

/** When a failed attempt may be tried again. */
type Retry = 'always' | 'when-not-sent';

interface Call {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
  readonly retry: Retry;
  readonly timeoutMs: number;
}

/**
 * Create a client of an xraft cluster.
 *
 * @example
 * const client = createClient<KvCommand, string | null>({ nodes: ['127.0.0.1:7001', '127.0.0.1:7002'] });
 * const session = await client.openSession();
 * await session.propose({ op: 'append', key: 'log', suffix: 'a' }); // applied once, however often retried
 * client.close();
 */
export function createClient<Command, Result>(options: ClientOptions<Command>): XraftClient<Command, Result> {
  if (options.nodes.length === 0) throw new TypeError('createClient: nodes must name at least one node (host:port)');
  const connections = new Connections(options.tls);
  const codec: Pick<CommandCodec<Command>, 'encode'> =
    options.commandSchema === undefined ? { encode: (command) => superjson.stringify(command) } : createCommandCodec(options.commandSchema);
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const retryDelayMs = options.retryDelayMs ?? 50;
  /** Every node address known: the given ones first, then those learned from status answers. */
  const known: string[] = [...new Set(options.nodes)];
  let addresses: Record<NodeId, string> = {};
  let leader: string | null = null;
  let cursor = 0;

  const learn = (status: { leader?: NodeId | null; addresses?: Record<NodeId, string> }, from: string): void => {
    if (status.addresses !== undefined) {
      addresses = { ...addresses, ...status.addresses };
      for (const address of Object.values(status.addresses)) if (!known.includes(address)) known.push(address);
    }
    if (status.leader != null) leader = addresses[status.leader] ?? leader;
    else if (status.leader === null && leader === from) leader = null;
  };
  const next = (): string => known[cursor++ % known.length]!;

  /** Find the leader's address by asking nodes in turn; null when none knows one yet. */
  const discover = async (deadline: number): Promise<string | null> => {
    for (let asked = 0; asked < known.length && Date.now() < deadline; asked++) {
      const address = next();
      try {
        const answer = await connections.request(address, 'GET', clientApiPaths.status, undefined, Math.max(1, Math.min(1000, deadline - Date.now())));
        if (answer.status !== 200) continue;
        const status = answer.body as ClientStatus;
        learn(status, address);
        if (status.role === 'leader') return (leader = address);
        if (leader !== null) return leader;
      } catch {
        // unreachable: ask the next one
      }
    }
    return null;
  };

  /** One request to one node, without retries: its answer, or its failure as a typed error. */
  async function once<T>(target: string, { method, path, body, timeoutMs }: Call): Promise<T> {
    let answer;
    try {
      answer = await connections.request(target, method, path, body, timeoutMs);
    } catch (error) {
      throw error instanceof ConnectionFailure ? withCause(new TimeoutError(timeoutMs), error) : error;
    }
    if (answer.status >= 200 && answer.status < 300) return answer.body as T;
    throw decodeError(answer.status, answer.body);
  }

  async function call<T>(request: Call): Promise<T> {
    const { method, path, body, retry, timeoutMs } = request;
    const deadline = Date.now() + timeoutMs;
    let lastError: Error | null = null;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && leader === null) await pause(Math.min(retryDelayMs, Math.max(0, deadline - Date.now())));
      if (Date.now() >= deadline) break;
      const target = leader ?? (await discover(deadline)) ?? next();
      const wait = Math.max(1, Math.min(options.attemptTimeoutMs ?? Infinity, deadline - Date.now()));
      // The node gets a little less time than the client waits, so that its own TIMEOUT arrives first.
      const sent = path === clientApiPaths.propose ? { ...(body as object), timeoutMs: Math.max(1, wait - Math.min(200, Math.floor(wait / 10))) } : body;
      let answer;
      try {
        answer = await connections.request(target, method, path, sent, wait);
      } catch (error) {
        if (!(error instanceof ConnectionFailure)) throw error;
        if (leader === target) leader = null;
        // Sent and unanswered: it may have taken effect, and only a session makes a second try safe.
        if (error.sent && retry !== 'always') throw withCause(new TimeoutError(timeoutMs), error);
        lastError = withCause(new TimeoutError(timeoutMs), error);
        next();
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) {
        if (path === clientApiPaths.status) learn(answer.body as ClientStatus, target);
        return answer.body as T;
      }
      const error = decodeError(answer.status, answer.body);
      lastError = error;
      if (error instanceof NotLeaderError) {
        if (error.outcome === 'unknown' && retry !== 'always') throw error;
        const hinted = (error as ClientNotLeaderError).leaderAddress ?? (error.leaderHint === null ? null : (addresses[error.leaderHint] ?? null));
        leader = hinted !== null && hinted !== target ? hinted : null;
        continue;
      }
      if (error instanceof OverloadedError || (error instanceof StoppedError && retry === 'always')) {
        if (leader === target) leader = null;
        await pause(Math.min(retryDelayMs, Math.max(0, deadline - Date.now())));
        continue;
      }
      if (error instanceof TimeoutError && retry === 'always') continue;
      throw error;
    }
    throw lastError ?? new TimeoutError(timeoutMs);
  }

  const decodeResult = (answer: { result: string }): Result => superjson.parse<Result>(answer.result);
  const proposeData = async (command: string, session: Omit<SessionTag, 'at'> | undefined, timeoutMs: number): Promise<Result> => {
    const request: ProposeRequest = session === undefined ? { command } : session.seq === 0 ? { session } : { command, session };
    return decodeResult(await call<{ result: string }>({ method: 'POST', path: clientApiPaths.propose, body: request, retry: session === undefined ? 'when-not-sent' : 'always', timeoutMs }));
  };
  const change = (path: string, body: unknown): Promise<ClientMembers> => call<ClientMembers>({ method: 'POST', path, body, retry: 'when-not-sent', timeoutMs: defaultTimeoutMs });

  return {
    async propose(command, proposeOptions = {}) {
      return proposeData(codec.encode(command), undefined, proposeOptions.timeoutMs ?? defaultTimeoutMs);
    },
    openSession(sessionOptions = {}) {
      return ClientSession.open<Command, Result>(
        {
          encode: codec.encode,
          // The node stamps the tag's time from its own clock; the client's is not sent.
          propose: (data, { client, seq, ack }, timeoutMs) => proposeData(data, { client, seq, ack }, timeoutMs),
          sleep: pause,
          now: () => performance.now(),
        },
        { timeoutMs: defaultTimeoutMs, ...sessionOptions },
      );
    },
    status(statusOptions = {}) {
      const timeoutMs = statusOptions.timeoutMs ?? defaultTimeoutMs;
      if (statusOptions.node !== undefined) return once<ClientStatus>(statusOptions.node, { method: 'GET', path: clientApiPaths.status, retry: 'always', timeoutMs });
      return (async () => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const status = await call<ClientStatus>({ method: 'GET', path: clientApiPaths.status, retry: 'always', timeoutMs: Math.max(1, deadline - Date.now()) });
          if (status.role === 'leader' || Date.now() >= deadline) return status;
          // A follower answered: its leader is known now (or none is), so ask again there.
          if (leader === null) await pause(Math.min(retryDelayMs, Math.max(0, deadline - Date.now())));
        }
      })();
    },
    async members() {
      const status = await this.status();
      return { voters: status.members, learners: status.learners, addresses: status.addresses };
    },
    join: (joinOptions) =>
      call<ClientMembers & { id: NodeId }>({ method: 'POST', path: clientApiPaths.join, body: joinOptions, retry: 'when-not-sent', timeoutMs: defaultTimeoutMs }),
    addLearner: (id, learnerOptions = {}) => change(clientApiPaths.addLearner, { id, ...learnerOptions }),
    promote: (id) => change(clientApiPaths.promote, { id }),
    removeMember: (id) => change(clientApiPaths.removeMember, { id }),
    async transferLeadership(target) {
      const answer = await call<{ leader: NodeId | null }>({
        method: 'POST',
        path: clientApiPaths.transferLeadership,
        body: target === undefined ? {} : { target },
        retry: 'when-not-sent',
        timeoutMs: defaultTimeoutMs,
      });
      leader = answer.leader === null ? null : (addresses[answer.leader] ?? null);
      return answer.leader;
    },
    get leaderAddress() {
      return leader;
    },
    close() {
      connections.close();
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((resume) => setTimeout(resume, ms));

function withCause<E extends Error>(error: E, cause: unknown): E {
  if (cause !== null && cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, enumerable: false });
  return error;
}

/** A NotLeaderError that also carries the leader's address, when the node knew it. */
export class ClientNotLeaderError extends NotLeaderError {
  constructor(
    leaderHint: NodeId | null,
    outcome: 'not-appended' | 'unknown',
    readonly leaderAddress: string | null,
  ) {
    super(leaderHint, outcome);
  }
}

/** A node's error answer as the typed error the node threw; codes the client does not know become RemoteError. */
export function decodeError(status: number, body: unknown): XraftError | RemoteError {
  const error = (body as Partial<ClientApiErrorBody> | null)?.error;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`;
  const message = typeof error?.message === 'string' ? error.message : `the node answered ${status}`;
  switch (code as XraftErrorCode) {
    case 'NOT_LEADER':
      return new ClientNotLeaderError(error?.leaderHint ?? null, error?.outcome === 'unknown' ? 'unknown' : 'not-appended', error?.leaderAddress ?? null);
    case 'TIMEOUT':
      return new TimeoutError(Number(/within (\d+) ms/.exec(message)?.[1] ?? 0));
    case 'STOPPED':
      return new StoppedError(message);
    case 'REJECTED': {
      let cause: unknown = message;
      try {
        if (typeof error?.cause === 'string') cause = superjson.parse(error.cause);
      } catch {
        // keep the message
      }
      return new RejectedError(cause);
    }
    case 'INVALID_COMMAND':
      return new InvalidCommandError(message, error?.issues ?? []);
    case 'OVERLOADED':
      return new OverloadedError(Number(/more than (\d+)/.exec(message)?.[1] ?? 0));
    case 'SESSION_EXPIRED':
      return new SessionExpiredError(/session (\S+)/.exec(message)?.[1] ?? '');
    case 'MEMBERSHIP':
      return new MembershipChangeError((error?.reason ?? 'CHANGE_IN_PROGRESS') as MembershipChangeError['reason'], message);
    case 'TRANSFER_ABORTED':
      return new TransferAbortedError(message.replace(/^leadership transfer aborted: /, ''));
    default:
      return new RemoteError(code, status, message);
  }
}

/**
 * An answer with no typed error of its own: BAD_REQUEST (the request was malformed; nothing was done), INTERNAL, or
 * a status from something that is not an xraft node. `code` is the node's.
 */
export class RemoteError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}
