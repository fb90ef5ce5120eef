/**
 * How commands become log entry data and back. A command is encoded with superjson exactly once, when it is
 * proposed (so Date, Map, Set and BigInt survive), and then travels and rests as that string. Decoding validates the
 * result against the user's zod schema: bytes from disk or wire are never trusted.
 *
 * Most commands are plain JSON, which is encoded to superjson's text without superjson's walker (plainJson.ts): the
 * walk cost more than the rest of a proposal's trip through the node.
 */
import superjson from 'superjson';
import type { z } from 'zod';
import { InvalidCommandError } from './errors.js';
import { NOT_PLAIN, plainJsonCopy, plainJsonText } from './plainJson.js';

export interface CommandCodec<Command> {
  /** Validate and encode a command; throws InvalidCommandError when it does not match the schema. */
  encode(command: Command): string;
  /** Decode and validate entry data; throws InvalidCommandError on anything that is not a valid command. */
  decode(data: string): Command;
  /**
   * `encode`, and with it what `decode` gives for the text when that is cheaper to have now than to parse later (a
   * plain JSON command: the copy the text was written from, validated), so that the node proposing it need not parse
   * its own text to apply it. Optional: without it, or without `decoded`, the node decodes the text.
   */
  encodeWithDecoded?(command: Command): EncodedCommand<Command>;
}

export interface EncodedCommand<Command> {
  readonly data: string;
  /**
   * Exactly what `decode(data)` returns, or undefined. Made from a copy, so it shares nothing with the caller's command
   * (which the caller may change after proposing) that a decoded one would not.
   */
  readonly decoded: { readonly command: Command } | undefined;
}

export function createCommandCodec<Command>(schema: z.ZodType<Command>): Required<CommandCodec<Command>> {
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
  const encodeWithDecoded = (command: Command): EncodedCommand<Command> => {
    const value = validate(command);
    const plain = plainJsonCopy(value);
    if (plain === NOT_PLAIN) return { data: superjson.stringify(value), decoded: undefined };
    // The text first: a transform of the schema could change what it is given.
    const data = plainJsonText(plain);
    // decode(data) is validate(JSON.parse(data).json), and `plain` is what that parse gives. A schema whose second
    // validation throws (a transform that is not idempotent) throws there too: leave that to decode.
    let decoded: { readonly command: Command } | undefined;
    try {
      decoded = { command: validate(plain) };
    } catch {
      decoded = undefined;
    }
    return { data, decoded };
  };
  return {
    encode: (command) => {
      const value = validate(command);
      const plain = plainJsonCopy(value);
      return plain === NOT_PLAIN ? superjson.stringify(value) : plainJsonText(plain);
    },
    encodeWithDecoded,
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

