import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCommandCodec } from '../../src/codec.js';
import { NOT_PLAIN, plainJsonCopy, plainJsonText } from '../../src/plainJson.js';

const textOf = (value: unknown): string | null => {
  const plain = plainJsonCopy(value);
  return plain === NOT_PLAIN ? null : plainJsonText(plain);
};

describe('plain JSON commands', () => {
  it('writes exactly what superjson writes for plain JSON', () => {
    const nullPrototype = Object.assign(Object.create(null) as object, { a: 1 });
    const values: unknown[] = ['text', '', 0, 1.5, -7, true, false, null, [], {}, [1, 'two', null, [3]], { a: { b: [1, { c: 'x"\\\n' }] }, 'd.e': 2 }, nullPrototype, { 'ü': 'ω' },
      // What JSON.stringify escapes and leaves: controls, DEL, U+2028, pairs and lone surrogates, escapes in keys.
      '\u0000\u001f\u007f\u2028\u2029', 'a\tb\r\n\b\f', '😀', '\ud800', 'x\udc00y', { 'k"\\\n': ['\ud83d', 'é'] },
      1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -1e-300, { '2': 'b', '1': 'a', z: [true, false, [null]] }];
    for (const value of values) {
      expect(textOf(value), JSON.stringify(value)).toBe(superjson.stringify(value));
      expect(plainJsonCopy(value)).toStrictEqual(superjson.parse(superjson.stringify(value)));
    }
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
    for (const value of values) expect(textOf(value)).toBeNull();
  });

  it('steps aside while a custom superjson transformer is registered (reading superjson\'s registry still works)', () => {
    superjson.registerCustom<string, string>({ isApplicable: (value: unknown): value is string => value === Symbol.for('never'), serialize: String, deserialize: String }, 'probe');
    const registry = (superjson as unknown as { defaultInstance: { customTransformerRegistry: { transfomers: Record<string, unknown> } } }).defaultInstance.customTransformerRegistry;
    try {
      expect(textOf({ a: 1 })).toBeNull();
    } finally {
      delete registry.transfomers.probe;
    }
    expect(textOf({ a: 1 })).toBe('{"json":{"a":1}}');
  });

  it('round-trips through the command codec either way', () => {
    const codec = createCommandCodec(z.object({ key: z.string(), at: z.date().optional() }));
    expect(codec.decode(codec.encode({ key: 'k' }))).toEqual({ key: 'k' });
    expect(codec.decode(codec.encode({ key: 'k', at: new Date(5) }))).toEqual({ key: 'k', at: new Date(5) });
  });

  it('hands the proposer exactly what decoding its text gives, or nothing', () => {
    const codec = createCommandCodec(z.object({ key: z.string(), n: z.number().optional(), tags: z.array(z.string()).optional() }));
    const command = { key: 'k', n: 2, tags: ['a'] };
    const encoded = codec.encodeWithDecoded(command);
    expect(encoded.data).toBe(codec.encode(command));
    expect(encoded.decoded?.command).toStrictEqual(codec.decode(encoded.data));
    expect(encoded.decoded?.command).not.toBe(command);
    expect(encoded.decoded?.command.tags).not.toBe(command.tags);
    const dated = createCommandCodec(z.object({ at: z.date() }));
    expect(dated.encodeWithDecoded({ at: new Date(1) }).decoded).toBeUndefined();
    // A transform that is not idempotent: decoding validates again, and so must the proposer's copy.
    const doubling = createCommandCodec(z.object({ n: z.number().transform((n) => n * 2) }));
    const twice = doubling.encodeWithDecoded({ n: 1 });
    expect(twice.decoded?.command).toStrictEqual(doubling.decode(twice.data));
    const once = createCommandCodec(z.object({ s: z.string().transform((s) => s.length) }) as unknown as z.ZodType<{ s: string }>);
    expect(once.encodeWithDecoded({ s: 'abc' }).decoded).toBeUndefined();
    expect(() => once.decode(once.encode({ s: 'abc' }))).toThrow();
  });
});
