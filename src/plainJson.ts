/**
 * Commands that are plain JSON, the common case, skip superjson's walker. superjson's text for such a value is
 * `{"json":<its JSON>}` with no annotations; writing it directly costs a fraction of the walk, and a copy made on the
 * way is exactly what decoding that text gives back (JSON.parse of it), so a node that proposes a command need not
 * parse its own text again when it applies it.
 *
 * Plain JSON here: plain objects (prototype Object.prototype or null) and arrays, each reached once (superjson
 * annotates an object reached by two paths, and refuses cycles), strings, booleans, null and finite numbers other
 * than -0 (superjson annotates it); no `undefined`, no array holes, no key superjson refuses (`__proto__`,
 * `constructor`, `prototype`), and no custom superjson transformer registered (one might claim a plain value).
 */
import superjson from 'superjson';

/** What `plainJsonCopy` answers for a value that is not plain JSON. */
export const NOT_PLAIN: unique symbol = Symbol('not plain JSON');

/**
 * A copy of `value` as JSON.parse(JSON.stringify(value)) would make it (plain objects with Object.prototype, keys in
 * the same order, strings shared), or NOT_PLAIN. Each property is read once, so the copy and a text made from it
 * agree even when a getter would not answer the same twice.
 */
export function plainJsonCopy(value: unknown): unknown {
  if (customTransformersMayApply()) return NOT_PLAIN;
  // One scratch list of the containers seen, reused (a nested call, from a getter say, gets its own).
  const containers = scratch ?? [];
  scratch = null;
  try {
    return copy(value, containers);
  } finally {
    // Popping the few entries beats assigning `length` (a call into the runtime) at this rate.
    while (containers.length > 0) containers.pop();
    scratch = containers;
  }
}

/**
 * superjson's text for a plain JSON value (one `plainJsonCopy` made): `JSON.stringify({ json: plain })`, written by
 * hand. V8's JSON.stringify builds every string through its escaping buffer (0.24 µs and 340 bytes of garbage for a
 * 100-character string on Node 20, most of a command's encoding); a string with nothing to escape is quoted as it is.
 * The text is a rope of concatenations until something reads it whole and flattens it, once (a follower's parse, a
 * write); the in-process bench, which includes that, spent a median 8 % less CPU per proposal (13 of 14 pairs).
 */
export function plainJsonText(plain: unknown): string {
  return `{"json":${textOf(plain)}}`;
}

/** What JSON.stringify escapes: quote, backslash, control characters, and surrogates (a lone one is escaped). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quoted(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

function textOf(plain: unknown): string {
  switch (typeof plain) {
    case 'string':
      return quoted(plain);
    case 'number':
    case 'boolean':
      return String(plain); // finite and not -0 (plainJsonCopy): what JSON.stringify writes
  }
  if (plain === null) return 'null';
  if (Array.isArray(plain)) {
    let text = '[';
    for (let i = 0; i < plain.length; i++) text += i === 0 ? textOf(plain[i]) : `,${textOf(plain[i])}`;
    return `${text}]`;
  }
  let text = '{';
  for (const key in plain as Record<string, unknown>) {
    text += `${text.length === 1 ? '' : ','}${quoted(key)}:${textOf((plain as Record<string, unknown>)[key])}`;
  }
  return `${text}}`;
}

let scratch: object[] | null = [];

/** Commands are small: a linear scan of the containers seen beats a Set; a command of more goes to superjson. */
const MAX_CONTAINERS = 64;

function copy(value: unknown, containers: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : NOT_PLAIN;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (containers.length >= MAX_CONTAINERS || containers.includes(value)) return NOT_PLAIN;
  containers.push(value);
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return NOT_PLAIN;
      const item = copy(value[i], containers);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return NOT_PLAIN;
    const item = copy((value as Record<string, unknown>)[key], containers);
    if (item === NOT_PLAIN) return NOT_PLAIN;
    out[key] = item;
  }
  return out;
}

/**
 * Whether a custom transformer is registered with superjson's default instance (the one `superjson.registerCustom`
 * adds to). superjson does not expose the question; its registry is read where it keeps it, and if that changes
 * shape the answer is yes, so that every command goes through superjson.
 */
function customTransformersMayApply(): boolean {
  const instance = (superjson as unknown as { readonly defaultInstance?: { readonly customTransformerRegistry?: { readonly transfomers?: object } } }).defaultInstance;
  const registered = instance?.customTransformerRegistry?.transfomers;
  if (registered === undefined) return true;
  for (const _ in registered) return true;
  return false;
}
