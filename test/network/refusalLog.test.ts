/**
 * RefusalLog on a hand-moved clock: the first refusal per sender and code is logged at once, the rest of its interval
 * only counted, and senders beyond the cap share one entry, so a flood of forged senders stays a few lines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RefusalLog, type Refusal } from '../../actors/network/refusalLog.js';

const logs: RefusalLog[] = [];
afterEach(() => {
  for (const log of logs.splice(0)) log.close();
});

function setup(maxSenders?: number) {
  const lines: string[] = [];
  let now = 0;
  const log = new RefusalLog({ log: (line) => lines.push(line), intervalMs: 1000, maxSenders, now: () => now });
  logs.push(log);
  return { lines, log, advance: (ms: number) => (now += ms) };
}

const refusal = (sender: string, code = 'WRONG_CLUSTER'): Refusal => ({ sender, address: null, status: 403, code, message: 'no' });

describe('RefusalLog', () => {
  it('logs the first refusal per sender and code, then one count per interval', () => {
    const { lines, log, advance } = setup();
    for (let i = 0; i < 50; i++) log.record(refusal('n2'));
    log.record(refusal('n2', 'WRONG_NODE'));
    log.record(refusal('n3'));
    expect(lines).toEqual([
      'refused a request from n2: 403 WRONG_CLUSTER: no',
      'refused a request from n2: 403 WRONG_NODE: no',
      'refused a request from n3: 403 WRONG_CLUSTER: no',
    ]);
    advance(999);
    log.record(refusal('n2'));
    expect(lines).toHaveLength(3);
    advance(1);
    log.record(refusal('n2'));
    expect(lines.slice(3)).toEqual(['refused 50 more request(s) from n2 with WRONG_CLUSTER within 1000 ms', 'refused a request from n2: 403 WRONG_CLUSTER: no']);
  });

  it('counts senders beyond the cap together, and escapes what the network wrote', () => {
    const { lines, log } = setup(2);
    for (let i = 0; i < 100; i++) log.record(refusal(`forged-${i}`));
    log.record({ ...refusal('n2\n[n1] fake line', 'UNKNOWN_SENDER'), message: 'x'.repeat(1000) });
    log.close();
    expect(lines).toEqual([
      'refused a request from forged-0: 403 WRONG_CLUSTER: no',
      'refused a request from forged-1: 403 WRONG_CLUSTER: no',
      'refused a request from forged-2: 403 WRONG_CLUSTER: no',
      `refused a request from n2\\x0a[n1] fake line: 403 UNKNOWN_SENDER: ${'x'.repeat(200)}...`,
      'refused 97 more request(s) from other senders with WRONG_CLUSTER within 1000 ms',
    ]);
  });
});
