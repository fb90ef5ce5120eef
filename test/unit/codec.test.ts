import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandCodec, plainJsonText } from '../../src/codec.js';

describe('plainJsonText', () => {
  it('writes exactly what superjson writes for plain JSON', () => {
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    const values: unknown[] = ['text', '', 0, 1.5, -7, true, false, null, [], {}, [1, 'two', null, [3]], { a: { b: [1, { c: 'x"\\\n' }] }, 'd.e': 2 }, nullPrototype, { 'ü': 'ω' }];
    for (const value of values) expect(plainJsonText(value), JSON.stringify(value)).toBe(superjson.stringify(value));
  });

  it('leaves to superjson what it annotates or refuses', () => {
    const shared = { x: 1 };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const values: unknown[] = [
      undefined,
      { a: undefined },
      [1, , 3], // eslint-disable-line no-sparse-arrays
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      new Date(0),
      new Map([[1, 2]]),
      new Set([1]),
      /x/,
      new Error('e'),
      Symbol('s'),
      () => 1,
      { shared, again: shared },
      cyclic,
      new (class Point { x = 1 })(),
      JSON.parse('{"__proto__": {"x": 1}}'),
      Array.from({ length: 100 }, () => ({})),
    ];
    for (const value of values) expect(plainJsonText(value)).toBeNull();
  });

  it('steps aside while a custom superjson transformer is registered (reading superjson\'s registry still works)', () => {
    superjson.registerCustom<string, string>({ isApplicable: (value: unknown): value is string => value === Symbol.for('never'), serialize: String, deserialize: String }, 'probe');
    const registry = (superjson as unknown as { defaultInstance: { customTransformerRegistry: { transfomers: Record<string, unknown> } } }).defaultInstance.customTransformerRegistry;
    try {
      expect(plainJsonText({ a: 1 })).toBeNull();
    } finally {
      delete registry.transfomers.probe;
    }
    expect(plainJsonText({ a: 1 })).toBe('{"json":{"a":1}}');
  });

  it('round-trips through the command codec either way', () => {
    const codec = createCommandCodec(z.object({ key: z.string(), at: z.date().optional() }));
    expect(codec.decode(codec.encode({ key: 'k' }))).toEqual({ key: 'k' });
    expect(codec.decode(codec.encode({ key: 'k', at: new Date(5) }))).toEqual({ key: 'k', at: new Date(5) });
  });
});
