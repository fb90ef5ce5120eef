/**
 * The client API: what `xraft/client` (src/client/) speaks to, served by any xraft process on its raft port (the
 * HTTP/2 server of its `Http2Network`), under `/xraft/v1/client/`. JSON in, JSON out:
 *
 * | route                                   | body                                           | 200 answer                      |
 * | --------------------------------------- | ---------------------------------------------- | ------------------------------- |
 * | `POST /xraft/v1/client/propose`          | `{ command, timeoutMs?, session? }`            | `{ result }`                    |
 * | `GET  /xraft/v1/client/status`           |                                                | `status()` + `addresses`        |
 * | `GET  /xraft/v1/client/members`          |                                                | `{ voters, learners, addresses }` |
 * | `POST /xraft/v1/client/members/add-learner` | `{ id, promote?, address? }`                | `{ voters, learners, addresses }` |
 * | `POST /xraft/v1/client/members/promote`  | `{ id }`                                       | same                            |
 * | `POST /xraft/v1/client/members/remove`   | `{ id }`                                       | same                            |
 * | `POST /xraft/v1/client/transfer-leadership` | `{ target? }`                               | `{ leader }`                    |
 *
 * `command` is the command's superjson text (what `createCommandCodec(schema).encode` makes): the node decodes and
 * checks it against its command schema before anything is proposed, and proposes the text as it came (a command is
 * encoded once, by the client). `result` is the state machine's result as superjson text. `session` is
 * `{ client, seq, ack }` of a client session (src/session.ts; `seq` 0 registers it and carries no command); the node
 * stamps the tag's `at` from its own clock, since that time becomes the replicated clock that expires sessions.
 *
 * Reads are not served: a read is a query function over the application's state machine, which a generic API
 * cannot receive; applications add their own read routes (the KV example's `GET /kv/:key`, `xraft-node`'s
 * `GET /client/kv`).
 *
 * Errors: `{ error: { code, message, leaderHint?, leaderAddress?, outcome?, reason?, issues?, cause? } }`, with the
 * codes of the node's typed errors (src/errors.ts) and these statuses: BAD_REQUEST (the body is not JSON or not the
 * request's shape) and INVALID_COMMAND 400, SESSION_EXPIRED 410, MEMBERSHIP and TRANSFER_ABORTED 409, REJECTED 422
 * (`cause`: what `apply` threw, as superjson text), OVERLOADED 429, NOT_LEADER and STOPPED 503, TIMEOUT 504. A 4xx
 * changed nothing (an unknown session's request is refused by the state machine when applied, without effect).
 */
import superjson from 'superjson';
import { nanoid } from 'nanoid';
import { z } from 'zod';
import type { Http2Network, RouteRequest, RouteResponse } from '../actors/network/Http2Network.js';
import type { NodeId, SessionTag } from './core/index.js';
import type { NodeStatus, RaftNode } from './createRaftNode.js';
import { InvalidCommandError, MembershipChangeError, NotLeaderError, RejectedError, XraftError } from './errors.js';
import { MAX_ID_LENGTH } from './wire.js';

export const CLIENT_API_PREFIX = '/xraft/v1/client';

/** The client API's paths. */
export const clientApiPaths = {
  propose: `${CLIENT_API_PREFIX}/propose`,
  status: `${CLIENT_API_PREFIX}/status`,
  members: `${CLIENT_API_PREFIX}/members`,
  addLearner: `${CLIENT_API_PREFIX}/members/add-learner`,
  join: `${CLIENT_API_PREFIX}/members/join`,
  promote: `${CLIENT_API_PREFIX}/members/promote`,
  removeMember: `${CLIENT_API_PREFIX}/members/remove`,
  transferLeadership: `${CLIENT_API_PREFIX}/transfer-leadership`,
} as const;

/** Longest deadline a request may ask for, in ms. */
const MAX_TIMEOUT_MS = 600_000;

const nodeId = z.string().min(1).max(MAX_ID_LENGTH);
const hostPort = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port');

export const proposeRequestSchema = z
  .strictObject({
    command: z.string().optional(),
    timeoutMs: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional(),
    session: z
      .strictObject({ client: nodeId, seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), ack: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) })
      .refine(({ seq, ack }) => ack <= seq || seq === 0, { message: 'ack must not exceed seq', path: ['ack'] })
      .optional(),
  })
  .refine(({ command, session }) => (session?.seq === 0 ? command === undefined || command === '' : command !== undefined), {
    message: 'command is required (and absent when registering a session, seq 0)',
    path: ['command'],
  });
export type ProposeRequest = z.input<typeof proposeRequestSchema>;

const addLearnerSchema = z.strictObject({ id: nodeId, promote: z.boolean().optional(), address: hostPort.optional() });
const memberSchema = z.strictObject({ id: nodeId });
/** A node asking to join: its id (or none, to be given one: raftify's request_id) and the address it listens on. */
const joinSchema = z.strictObject({ id: nodeId.optional(), address: hostPort });
const transferSchema = z.strictObject({ target: nodeId.optional() });

/** What `GET status` answers: the node's status and every member's address it knows (for following the leader). */
export interface ClientStatus extends NodeStatus {
  readonly addresses: Readonly<Record<NodeId, string>>;
}

/** What the membership routes answer. */
export interface ClientMembers {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly addresses: Readonly<Record<NodeId, string>>;
}

/** The body of every error answer. */
export interface ClientApiErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly leaderHint?: NodeId | null;
    readonly leaderAddress?: string | null;
    readonly outcome?: 'not-appended' | 'unknown';
    readonly reason?: string;
    readonly issues?: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[];
    /** REJECTED: what the state machine threw, as superjson text. */
    readonly cause?: string;
  };
}

export interface ClientApiOptions {
  /** This node's address for clients (`host:port`), reported with its peers' in `addresses`. */
  readonly address?: string;
  /** Wraps each proposal the API makes (to count and time it, say). */
  readonly observeProposal?: <T>(proposal: Promise<T>) => Promise<T>;
}

class BadRequest extends Error {}

/**
 * Serve the client API for `node` on `network`'s server.
 *
 * @example
 * const network = new Http2Network({ id: 'n1', clusterId: 'prod', peers, listen: { port: 4001 } });
 * const node = createRaftNode({ id: 'n1', members, commandSchema, stateMachine, network });
 * serveClientApi(network, node, { address: '10.0.0.1:4001' });
 */
export function serveClientApi<Command, Result, SM>(network: Http2Network, node: RaftNode<Command, Result, SM>, options: ClientApiOptions = {}): void {
  const addresses = (): Record<NodeId, string> => {
    // The configuration's addresses, over the network's peer table (peers configured at start).
    const fromConfig = node.members().addresses ?? {};
    return { ...network.peers(), ...fromConfig, ...(options.address === undefined ? {} : { [node.id]: options.address }) };
  };
  const members = (): ClientMembers => ({ ...node.members(), addresses: addresses() });
  const fail = (error: unknown): RouteResponse => clientErrorResponse(error, addresses());
  const route = <T>(method: string, path: string, schema: z.ZodType<T> | null, handle: (body: T) => Promise<RouteResponse> | RouteResponse): void => {
    network.route(method, path, async (request: RouteRequest) => {
      try {
        return await handle(schema === null ? (undefined as T) : parseBody(request, schema));
      } catch (error) {
        return fail(error);
      }
    });
  };

  route('POST', clientApiPaths.propose, proposeRequestSchema, async ({ command, timeoutMs, session }) => {
    const tag: SessionTag | undefined = session === undefined ? undefined : { ...session, at: Date.now() };
    const proposal = node.proposeEncoded(command ?? '', { timeoutMs, session: tag });
    const result = await (options.observeProposal === undefined ? proposal : options.observeProposal(proposal));
    return { status: 200, body: { result: superjson.stringify(result) } };
  });
  route('GET', clientApiPaths.status, null, () => ({ status: 200, body: { ...node.status(), addresses: addresses() } satisfies ClientStatus }));
  route('GET', clientApiPaths.members, null, () => ({ status: 200, body: members() }));
  route('POST', clientApiPaths.addLearner, addLearnerSchema, async ({ id, promote, address }) => {
    // The address travels in the configuration: every node's network learns it from the log.
    await node.addLearner(id, address === undefined ? { promote } : { promote, address });
    return { status: 200, body: members() };
  });
  route('POST', clientApiPaths.join, joinSchema, async ({ id, address }) => {
    // On the leader (a follower answers NOT_LEADER with the leader's address, which the client follows): one change
    // adds the node as a learner with its address, promoted to voter once it has caught up. A taken id or address is
    // refused (MEMBERSHIP: ALREADY_MEMBER, ADDRESS_TAKEN). Ids are never reused, so a new one is random, not the next number.
    const joiner = id ?? `node-${nanoid(10)}`;
    await node.addLearner(joiner, { promote: true, address });
    return { status: 200, body: { id: joiner, ...members() } };
  });
  route('POST', clientApiPaths.promote, memberSchema, async ({ id }) => (await node.promote(id), { status: 200, body: members() }));
  route('POST', clientApiPaths.removeMember, memberSchema, async ({ id }) => (await node.removeMember(id), { status: 200, body: members() }));
  route('POST', clientApiPaths.transferLeadership, transferSchema, async ({ target }) => {
    await node.transferLeadership(target);
    return { status: 200, body: { leader: node.status().leader } };
  });
}

function parseBody<T>(request: RouteRequest, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(request.body.toString('utf8'));
  } catch {
    throw new BadRequest('the body is not JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new BadRequest(`bad request: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).slice(0, 5).join('; ')}`);
  }
  return parsed.data;
}

const STATUS_OF: Partial<Record<string, number>> = {
  BAD_REQUEST: 400,
  INVALID_COMMAND: 400,
  SESSION_EXPIRED: 410,
  MEMBERSHIP: 409,
  TRANSFER_ABORTED: 409,
  REJECTED: 422,
  OVERLOADED: 429,
  NOT_LEADER: 503,
  STOPPED: 503,
  TIMEOUT: 504,
};

/** A failure as the client API answers it; `addresses` give the leader's address with a NOT_LEADER. */
export function clientErrorResponse(error: unknown, addresses: Readonly<Record<NodeId, string>> = {}): RouteResponse {
  if (error instanceof BadRequest) return { status: 400, body: { error: { code: 'BAD_REQUEST', message: error.message } } };
  if (!(error instanceof XraftError)) {
    return { status: 500, body: { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } } };
  }
  const details =
    error instanceof NotLeaderError
      ? { leaderHint: error.leaderHint, leaderAddress: error.leaderHint === null ? null : (addresses[error.leaderHint] ?? null), outcome: error.outcome }
      : error instanceof MembershipChangeError
        ? { reason: error.reason }
        : error instanceof InvalidCommandError
          ? { issues: error.issues.map(({ path, message }) => ({ path: path.map((part) => (typeof part === 'symbol' ? String(part) : part)), message })) }
          : error instanceof RejectedError
            ? { cause: encodeCause(error.cause) }
            : {};
  const body: ClientApiErrorBody = { error: { code: error.code, message: error.message, ...details } };
  return { status: STATUS_OF[error.code] ?? 500, body };
}

function encodeCause(cause: unknown): string {
  try {
    return superjson.stringify(cause);
  } catch {
    return superjson.stringify(String(cause));
  }
}
