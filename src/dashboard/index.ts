/** The local dashboard: a node's feed (inspection events and status), the server and its page, the statechart layout. */
export { combineInspectors, createNodeFeed, type NodeFeed, type NodeFeedOptions } from './nodeFeed.js';
export { fromLoopback, serveFeed } from './feedRoute.js';
export { downView, statePath, termRuns, type FeedBatch, type InspectionRecord, type NodeView, type SentMessages, type TermRun } from './protocol.js';
export { followRemote, nodeStatechart, startDashboard, type ControlAction, type ControlRequest, type Dashboard, type DashboardControls, type DashboardOptions, type DashboardSource } from './server.js';
export { layoutStatechart, type StatechartBox, type StatechartEdge, type StatechartLayout } from './statechart.js';
