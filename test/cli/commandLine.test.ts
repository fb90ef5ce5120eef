/**
 * The commands without commander answer `--help` with their usage and a mistake with one line, never a stack trace.
 */
import { describe, expect, test } from 'vitest';
import { parseCommandLine, type CommandIo } from '../../src/cli/commandLine.js';

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function capture(): CommandIo & { readonly output: string[]; readonly errors: string[] } {
  const output: string[] = [];
  const errors: string[] = [];
  return {
    output,
    errors,
    out: (text) => void output.push(text),
    err: (text) => void errors.push(text),
    exit: (code) => {
      throw new Exited(code);
    },
  };
}

const usage = '\n  npm run tool -- [--seeds N] [--trace]\n';
const options = { seeds: { type: 'string' }, trace: { type: 'boolean', default: false } } as const;

function run(args: string[], allowPositionals = false) {
  const io = capture();
  try {
    return { parsed: parseCommandLine(usage, { args, options, allowPositionals }, io), io, code: null };
  } catch (error) {
    if (error instanceof Exited) return { parsed: null, io, code: error.code };
    throw error;
  }
}

describe('parseCommandLine', () => {
  test('parses the options it knows', () => {
    const { parsed, code } = run(['--seeds', '5', '--trace']);
    expect(code).toBeNull();
    expect(parsed?.values).toEqual({ seeds: '5', trace: true });
  });

  test('--help and -h print the usage on stdout and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const { io, code } = run(['--seeds', '5', flag]);
      expect(code).toBe(0);
      expect(io.output.join('')).toBe('npm run tool -- [--seeds N] [--trace]\n');
      expect(io.errors).toEqual([]);
    }
  });

  test('a mistake is one line on stderr and exit 2', () => {
    for (const args of [['--bogus'], ['--seeds'], ['stray']]) {
      const { io, code } = run(args);
      expect(code, args.join(' ')).toBe(2);
      const [line, hint, ...rest] = io.errors.join('').split('\n');
      expect(line).toMatch(/^error: /);
      expect(hint).toBe('(--help shows the options)');
      expect(rest).toEqual(['']);
      expect(io.errors.join('')).not.toContain('    at ');
    }
    expect(run(['--bogus']).io.errors.join('')).toContain("'--bogus'");
    expect(run(['-x'], true).io.errors.join('')).not.toContain('To specify a positional');
  });

  test('after --, --help is an argument', () => {
    const { parsed, code } = run(['--', '--help'], true);
    expect(code).toBeNull();
    expect(parsed?.positionals).toEqual(['--help']);
  });
});
