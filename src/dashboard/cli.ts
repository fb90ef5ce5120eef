/**
 * `npm run dashboard -- [--replay FILE] [--port 8090] [--follow n1=127.0.0.1:8001,...]`: a dashboard on its own, to
 * replay a simulator recording (`npm run sim -- --seed S --record FILE`) or to follow nodes started with
 * `--dashboard-feed`. Prints `dashboard http://127.0.0.1:PORT/`.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDashboard, type DashboardSource } from './server.js';

const { values } = parseArgs({
  options: { replay: { type: 'string' }, port: { type: 'string', default: '8090' }, follow: { type: 'string' } },
  strict: true,
});
const sources: DashboardSource[] = (values.follow ?? '')
  .split(',')
  .filter((entry) => entry !== '')
  .map((entry) => {
    const [id, http] = entry.split('=') as [string, string];
    return { kind: 'remote', id, url: `http://${http}/dashboard/feed` };
  });
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
