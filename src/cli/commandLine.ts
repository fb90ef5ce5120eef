/**
 * `node:util`'s `parseArgs` with a command's manners, for the commands that do not use commander (`npm start`, the
 * simulator, the Jepsen runner, the benchmarks, the dashboard): `--help` or `-h` prints the command's usage and exits
 * 0; an unknown option, a missing value or a stray argument prints one line saying what is wrong, and where the usage
 * is, and exits 2. parseArgs alone throws, and Node prints the stack trace of its own internals.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Where a command writes and how it ends (the process's, or a test's). */
export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  exit(code: number): never;
}

const processIo: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  exit: (code) => process.exit(code),
};

/** Parse `config.args` (default: the process's arguments) strictly, or answer `--help` / a mistake and exit. */
export function parseCommandLine<T extends Omit<ParseArgsConfig, 'strict'>>(usage: string, config: T, io: CommandIo = processIo): ReturnType<typeof parseArgs<T & { strict: true }>> {
  const args = config.args ?? process.argv.slice(2);
  // Only before `--`: after it, `--help` is an argument like any other.
  const options = args.indexOf('--') < 0 ? args : args.slice(0, args.indexOf('--'));
  if (options.includes('--help') || options.includes('-h')) {
    io.out(`${usage.trim()}\n`);
    return io.exit(0);
  }
  try {
    // `args` filled in changes nothing in the result's type.
    return parseArgs({ ...config, args, strict: true } as T & { strict: true });
  } catch (error) {
    // parseArgs's messages can carry advice for positionals starting with '-': the first sentence is the mistake.
    return refuse(error instanceof Error ? error.message.split('. To specify a positional')[0]! : String(error), io);
  }
}

/** A mistake in the command line, said in one line with where the usage is: exit 2. */
export function refuse(message: string, io: CommandIo = processIo): never {
  io.err(`error: ${message}\n(--help shows the options)\n`);
  return io.exit(2);
}
