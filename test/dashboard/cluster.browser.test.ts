/**
 * The dashboard of a running 3-process cluster (`npm start`, examples/local-cluster.ts) in Debian's chromium: three
 * nodes, one leader whose statechart highlights `running.leader`; stop the leader through the page and see another
 * node lead; cut and heal a link; restart the stopped node. Screenshots go to test-artifacts/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePorts } from '../network/support.js';
import { ARTIFACTS, launchBrowser } from './browser.js';

const root = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'xraft-dashboard-'));
let launcher: ChildProcess;
let dashboardUrl = '';
let output = '';

beforeAll(async () => {
  const ports = await freePorts(7);
  launcher = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples/local-cluster.ts'),
    '--raft-ports', ports.slice(0, 3).join(','), '--http-ports', ports.slice(3, 6).join(','), '--data', dir, '--dashboard-port', String(ports[6])], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }); // prettier-ignore
  launcher.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  dashboardUrl = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard line within 30 s:\n${output}`)), 30_000);
    launcher.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /dashboard (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match !== null) (clearTimeout(timer), resolveUrl(match[1]!));
    });
    launcher.once('exit', (code) => reject(new Error(`the launcher exited (${code}):\n${output}`)));
  });
}, 60_000);

afterAll(async () => {
  if (launcher.exitCode === null) {
    const exited = new Promise((done) => launcher.once('exit', done));
    launcher.kill('SIGTERM');
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
    if (launcher.exitCode === null) launcher.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard of a live cluster', () => {
  test('shows three nodes and their leader, stops the leader, sees a new one, cuts and heals a link', async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const { browser, close } = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(dashboardUrl);
      await page.waitForSelector('body[data-ready=live]', { timeout: 15_000 });
      // Page-side conditions are strings: this file is type-checked without the DOM library.
      await page.waitForFunction("document.querySelectorAll('#cluster g.node').length === 3 && document.querySelectorAll('#cluster g.node[data-role=leader]').length === 1", undefined, { timeout: 30_000 });
      const leader = (await page.getAttribute('#cluster g.node[data-role=leader]', 'data-node'))!;
      await page.waitForSelector(`.chart[data-node="${leader}"] rect.sc-box.active[data-state="running.leader"]`, { timeout: 5000 });
      // Each chart follows its own node's (sampled) inspection records: wait until both followers' have arrived.
      await page.waitForFunction("document.querySelectorAll('.chart rect.sc-box.active[data-state=\"running.follower\"]').length === 2", undefined, { timeout: 10_000 });
      expect(await page.locator('.chart rect.sc-box.active[data-state="running.leader"]').count()).toBe(1);
      expect(await page.locator('.chart rect.sc-box.active[data-state="running.follower"]').count()).toBe(2);
      // A command through the page reaches the log: every node's commit index moves.
      await page.click('#controls button[data-action=command]');
      await page.waitForSelector('#control-result[data-last="command:ok"]', { timeout: 10_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-cluster.png'), fullPage: true });

      await page.click(`#controls button[data-action=stop][data-node="${leader}"]`);
      await page.waitForSelector(`#cluster g.node[data-node="${leader}"][data-role=down]`, { timeout: 15_000 });
      await page.waitForFunction(`(() => { const leaders = [...document.querySelectorAll('#cluster g.node[data-role=leader]')]; return leaders.length === 1 && leaders[0].getAttribute('data-node') !== ${JSON.stringify(leader)}; })()`, undefined, { timeout: 20_000 });
      const next = (await page.getAttribute('#cluster g.node[data-role=leader]', 'data-node'))!;
      expect(next).not.toBe(leader);
      await page.waitForSelector(`.chart[data-node="${next}"] rect.sc-box.active[data-state="running.leader"]`, { timeout: 5000 });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-new-leader.png'), fullPage: true });

      const [a, b] = ['n1', 'n2', 'n3'].filter((id) => id !== leader) as [string, string];
      await page.click(`#controls button[data-action=cut][data-node="${a}"][data-peer="${b}"]`);
      // Attached, not "visible": a horizontal line has an empty bounding box, which playwright counts as hidden.
      await page.waitForSelector(`#cluster line.link.cut[data-link="${a}|${b}"]`, { state: 'attached', timeout: 10_000 });
      await page.waitForSelector('#control-result[data-last="cut:ok"]');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-link-cut.png'), fullPage: true });
      await page.click(`#controls button[data-action=heal][data-node="${a}"][data-peer="${b}"]`);
      await page.waitForSelector('#control-result[data-last="heal:ok"]', { timeout: 10_000 });
      await page.waitForFunction("document.querySelectorAll('#cluster line.link.cut').length === 0", undefined, { timeout: 10_000 });
      expect(await page.locator('#cluster line.link.cut').count()).toBe(0);
      // Healed, with two of three up, the cluster has a leader again.
      await page.waitForFunction("document.querySelectorAll('#cluster g.node[data-role=leader]').length === 1", undefined, { timeout: 20_000 });

      await page.click(`#controls button[data-action=restart][data-node="${leader}"]`);
      await page.waitForSelector('#control-result[data-last="restart:ok"]', { timeout: 10_000 });
      await page.waitForSelector(`#cluster g.node[data-node="${leader}"]:not([data-role=down])`, { timeout: 30_000 }).catch(async (error: Error) => {
        await page.screenshot({ path: join(ARTIFACTS, 'dashboard-restart-failed.png'), fullPage: true });
        throw new Error(`${error.message}\nlauncher output:\n${output}`);
      });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-restarted.png'), fullPage: true });
    } finally {
      await close();
    }
  });
});
