import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandCodec } from '../../src/codec.js';
import type { Entry } from '../../src/core/index.js';
import { CommandIntake } from '../../src/node/commandIntake.js';

const codec = createCommandCodec(z.object({ n: z.number() }));
const entry = (index: number, term: number, n: number, id?: string): Entry => ({ index, term, kind: 'command', data: codec.encode({ n }), ...(id === undefined ? {} : { id }) });

describe('CommandIntake', () => {
  it('hands each arrived entry its command decoded on arrival, once', () => {
    let decodes = 0;
    const counting = { ...codec, decode: (data: string) => (decodes++, codec.decode(data)) };
    const intake = new CommandIntake(counting, () => undefined);
    const entries = [entry(1, 1, 10), entry(2, 1, 20), entry(3, 1, 30)];
    expect(intake.problem(entries)).toBeNull();
    expect(decodes).toBe(3);
    expect(entries.map(intake.decode)).toEqual([{ n: 10 }, { n: 20 }, { n: 30 }]);
    expect(decodes).toBe(3);
    // Applied again (a later life of the entry, say): decoded again.
    expect(intake.decode(entries[2]!)).toEqual({ n: 30 });
    expect(decodes).toBe(4);
  });

  it('never hands a replaced entry the command of the one it replaced', () => {
    const intake = new CommandIntake(codec, () => undefined);
    const first = [entry(1, 1, 10), entry(2, 1, 20), entry(3, 1, 30)];
    expect(intake.problem(first)).toBeNull();
    // A new leader overwrites 2..3; a forged message out of order is refused by the core, but must not confuse this.
    const second = [entry(2, 2, 21), entry(3, 2, 31)];
    expect(intake.problem(second)).toBeNull();
    expect(intake.problem([entry(9, 2, 90), entry(4, 2, 40)])).toBeNull();
    expect(intake.decode(first[0]!)).toEqual({ n: 10 });
    expect(intake.decode(second[0]!)).toEqual({ n: 21 });
    expect(intake.decode(second[1]!)).toEqual({ n: 31 });
    // An entry object the intake never saw, at an index it holds another for: decoded from its own data.
    expect(intake.decode(entry(4, 3, 44))).toEqual({ n: 44 });
  });

  it('refuses a message whose command does not decode, keeping nothing of it', () => {
    const intake = new CommandIntake(codec, () => undefined);
    const good = entry(1, 1, 10);
    expect(intake.problem([good, { index: 2, term: 1, kind: 'command', data: '{"json":{"n":"x"}}' }])).toMatch(/entry 2 does not decode/);
    expect(intake.decode(good)).toEqual({ n: 10 });
  });

  it("applies this node's own entries from the command its caller proposed, when the data is the same", () => {
    const proposed = { command: { n: 5 } };
    const intake = new CommandIntake(codec, (id, data) => (id === 'p1' && data === codec.encode({ n: 5 }) ? proposed : undefined));
    expect(intake.decode(entry(1, 1, 5, 'p1'))).toBe(proposed.command);
    expect(intake.decode(entry(2, 1, 6, 'p1'))).toEqual({ n: 6 });
  });
});
