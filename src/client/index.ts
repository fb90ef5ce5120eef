/**
 * `xraft/client`: propose to an xraft cluster, open exactly-once sessions, follow its leader and change its
 * membership from another process, over HTTP/2 (src/clientApi.ts is what the nodes serve).
 */
export { createClient, decodeError, ClientNotLeaderError, RemoteError, type ClientOptions, type ClientProposeOptions, type XraftClient } from './createClient.js';
export type { ClientTlsOptions } from './connections.js';
export type { ClientMembers, ClientStatus } from '../clientApi.js';
export { ClientSession, type SessionOptions } from '../session.js';
export * from '../errors.js';
