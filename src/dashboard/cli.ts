/**
 * `npm run dashboard`: a dashboard on its own (USAGE below). Prints `dashboard http://127.0.0.1:PORT/`.
 */
import { resolve } from 'node:path';
import { parseCommandLine, refuse } from '../cli/commandLine.js';
import { isPort, parseAddresses } from '../process/config.js';
import { startDashboard, type DashboardSource } from './server.js';

const USAGE = `
npm run dashboard -- [--replay FILE] [--port 8090] [--follow n1=127.0.0.1:8001,...]

A dashboard on its own: --replay shows a simulator recording (npm run sim -- --seed S --record FILE), --follow shows
nodes started with --dashboard-feed (each as id=host:port of its HTTP API). Prints the dashboard's address.
`;

const { values } = parseCommandLine(USAGE, {
  options: { replay: { type: 'string' }, port: { type: 'string', default: '8090' }, follow: { type: 'string' } },
});
if (!isPort(values.port)) refuse(`--port is a port number (0 to 65535), not ${JSON.stringify(values.port)}`);
const sources: DashboardSource[] = Object.entries(followed(values.follow ?? '')).map(([id, http]) => ({ kind: 'remote', id, url: `http://${http}/dashboard/feed` }));
const dashboard = await startDashboard({
  port: Number(values.port),
  sources,
  title: values.replay === undefined ? 'following nodes' : `replay of ${values.replay}`,
  ...(values.replay === undefined ? {} : { recordingPath: resolve(values.replay) }),
});
console.log(`dashboard ${dashboard.url}${values.replay === undefined ? '' : '?replay=/recording.json'}`);
const stop = (): void => void dashboard.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/** `--follow`'s `id=host:port,...`, each id once, or a refusal. */
function followed(text: string): Record<string, string> {
  try {
    return parseAddresses(text);
  } catch (error) {
    return refuse(`--follow takes id=host:port entries: ${(error as Error).message}`);
  }
}
