/**
 * How commands become log entry data and back. A command is encoded with superjson exactly once, when it is
 * proposed (so Date, Map, Set and BigInt survive), and then travels and rests as that string. Decoding validates the
 * result against the user's zod schema: bytes from disk or wire are never trusted.
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
    encode: (command) => superjson.stringify(validate(command)),
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
