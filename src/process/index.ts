/**
 * `xraft/process`: run a node as a process (what `xraft-node` does), for applications that bring their own state
 * machine and client routes.
 */
export { startNodeProcess, keyValueApp, errorResponse, type NodeProcessApp, type RunningNode, type StartOptions } from './runNode.js';
export { isAddress, isPort, loadConfig, parseAddresses, parsePeers, splitAddress, nodeProcessConfigSchema, NodeProcessError, type NodeProcessConfig, type NodeProcessConfigInput } from './config.js';
export { KeyValueStateMachine, keyValueCommandSchema, type KeyValueCommand } from './KeyValueStateMachine.js';
