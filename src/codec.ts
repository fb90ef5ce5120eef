/**
 * How commands become log entry data and back. A command is encoded with superjson exactly once, when it is
 * proposed (so Date, Map, Set and BigInt survive), and then travels and rests as that string. Decoding validates the
 * result against the user's zod schema: bytes from disk or wire are never trusted.
 *
 * Most commands are plain JSON (objects, arrays, strings, numbers, booleans, null), for which superjson's text is
 * `{"json":<the JSON>}` with no annotations. Encoding them through superjson's walker costs more than the rest of a
 * proposal's trip through the node; `plainJsonText` writes the same text directly (see there for what qualifies).
 */
import superjson from 'superjson';
import type { z } from 'zod';
import { InvalidCommandError } from './errors.js';

export interface CommandCodec<Command> {
  /** Validate and encode a command; throws InvalidCommandError when it does not match the schema. */
  encode(command: Command): string;
  /** Decode and validate entry data; throws InvalidCommandError on anything that is not a valid command. */
  decode(data: string): Command;
}

export function createCommandCodec<Command>(schema: z.ZodType<Command>): CommandCodec<Command> {
  const validate = (value: unknown): Command => {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw new InvalidCommandError(
        `invalid command: ${result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
        result.error.issues.map((issue) => ({ path: issue.path, message: issue.message })),
      );
    }
    return result.data;
  };
  return {
    encode: (command) => {
      const value = validate(command);
      return plainJsonText(value) ?? superjson.stringify(value);
    },
    decode: (data) => {
      let value: unknown;
      try {
        value = superjson.parse(data);
      } catch (error) {
        throw new InvalidCommandError(`undecodable command: ${error instanceof Error ? error.message : String(error)}`, []);
      }
      return validate(value);
    },
  };
}

/**
 * `superjson.stringify(value)` for a value that is plain JSON, written without superjson's walker; null for any other
 * value (superjson encodes it). The text is byte for byte superjson's, so a log written either way reads the same.
 *
 * Plain JSON here: plain objects (prototype Object.prototype or null) and arrays, each reached once (superjson
 * annotates an object reached by two paths, and refuses cycles), strings, booleans, null and finite numbers other than -0; no
 * `undefined`, no array holes, no key superjson refuses (`__proto__`, `constructor`, `prototype`), and no custom
 * superjson transformer registered (one might claim a plain value).
 */
export function plainJsonText(value: unknown): string | null {
  if (customTransformersMayApply()) return null;
  return isPlainJson(value, []) ? `{"json":${JSON.stringify(value)}}` : null;
}

function isPlainJson(value: unknown, containers: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0); // superjson annotates -0
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  // Commands are small: a linear scan beats a Set; a command of many objects goes to superjson.
  if (containers.length >= MAX_CONTAINERS || containers.includes(value)) return false;
  containers.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || !isPlainJson(value[i], containers)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    if (!isPlainJson((value as Record<string, unknown>)[key], containers)) return false;
  }
  return true;
}

const MAX_CONTAINERS = 64;

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
