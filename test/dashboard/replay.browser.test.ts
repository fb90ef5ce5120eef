/**
 * A recorded simulator seed replays in the dashboard, step by step, forwards and backwards, with the same views as a
 * live cluster. The recording is made here as `npm run sim -- --seed 7 --steps 300 --record FILE` makes it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { startDashboard } from '../../src/dashboard/index.js';
import { SimRecorder, type SimRecording } from '../sim/recorder.js';
import { runSeed } from '../sim/simulation.js';
import { ARTIFACTS, launchBrowser } from './browser.js';

const dir = mkdtempSync(join(tmpdir(), 'xraft-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replay of a simulator run', () => {
  test('steps through a recorded seed forwards and backwards', async () => {
    const file = join(dir, 'seed7.json');
    const recorder = new SimRecorder(7, { steps: 300 });
    const result = await runSeed(7, { steps: 300, trace: true, onStep: recorder.onStep });
    expect(result.ok).toBe(true);
    recorder.write(file);
    const recording = JSON.parse(readFileSync(file, 'utf8')) as SimRecording;
    expect(recording.steps.length).toBe(result.stats.steps);
    // The first step at which some node leads, to step to.
    const leading = recording.steps.findIndex((step) => step.nodes.some((node) => node.role === 'leader'));
    expect(leading).toBeGreaterThan(0);

    const dashboard = await startDashboard({ recordingPath: file });
    const { browser, close } = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${dashboard.url}?replay=/recording.json`);
      await page.waitForSelector('body[data-ready=replay]', { timeout: 15_000 });
      expect(await page.textContent('#replay-step')).toContain(`step 1 / ${recording.steps.length}`);
      expect(await page.locator('#cluster g.node').count()).toBe(3);
      expect(await page.locator('#cluster g.node[data-role=leader]').count()).toBe(0);

      for (let step = 0; step < leading; step++) await page.click('#next');
      expect(await page.textContent('#replay-step')).toContain(`step ${leading + 1} / `);
      const leader = recording.steps[leading]!.nodes.find((node) => node.role === 'leader')!;
      await page.waitForSelector(`#cluster g.node[data-node="${leader.id}"][data-role=leader]`, { timeout: 2000 });
      await page.waitForSelector(`.chart[data-node="${leader.id}"] rect.sc-box.active[data-state="running.leader"]`, { timeout: 2000 });
      expect(await page.getAttribute('#summary', 'data-leader')).toBe(leader.id);

      await page.click('#prev');
      expect(await page.textContent('#replay-step')).toContain(`step ${leading} / `);
      expect(await page.locator('#cluster g.node[data-role=leader]').count()).toBe(0);
      await page.click('#next');

      // Further on, the logs fill up, coloured by term, with commit marks.
      const later = Math.min(recording.steps.length - 1, leading + 150);
      await page.locator('#scrub').fill(String(later));
      expect(await page.textContent('#replay-step')).toContain(`step ${later + 1} / `);
      const commit = Math.max(...recording.steps[later]!.nodes.map((node) => node.commitIndex));
      if (commit > 0) expect(await page.locator('#logs .cell.commit').count()).toBeGreaterThan(0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-replay.png'), fullPage: true });
    } finally {
      await close();
      await dashboard.close();
    }
  });
});
