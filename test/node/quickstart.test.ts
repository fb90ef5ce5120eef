import { expect, test } from 'vitest';
import { quickstart } from '../../examples/quickstart.js';

test('the README example elects a leader and commits a write on real timers', async () => {
  expect(await quickstart()).toBe(1);
});
