/**
 * Preloaded (`--import`) into the nodes that `npm start` launches: when the launcher goes away, however it died, its
 * end of our stdin closes, and the node stops gracefully as on SIGTERM instead of living on as an orphan.
 */
process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.once('error', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
