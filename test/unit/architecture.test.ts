/**
 * The layering rules of DESIGN.md, checked on the source: the core is pure, actors do not know each other.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((match) => match[1]!);
}

describe('layering', () => {
  test('the core imports nothing but itself and pure-rand: no node:*, no xstate, no timers, no actors', () => {
    const offenders = sourceFiles(join(root, 'src', 'core')).flatMap((file) =>
      importsOf(file)
        .filter((spec) => !(spec.startsWith('./') || spec.startsWith('pure-rand/')))
        .map((spec) => `${relative(root, file)} imports ${spec}`),
    );
    expect(offenders).toEqual([]);
    const timers = sourceFiles(join(root, 'src', 'core')).filter((file) => /\b(setTimeout|setInterval|setImmediate|Date\.now|Promise)\b/.test(readFileSync(file, 'utf8')));
    expect(timers.map((file) => relative(root, file))).toEqual([]);
  });

  test('an actor never imports another actor', () => {
    const actorsDir = join(root, 'actors');
    const offenders: string[] = [];
    for (const kind of readdirSync(actorsDir)) {
      for (const file of sourceFiles(join(actorsDir, kind))) {
        for (const spec of importsOf(file)) {
          const other = spec.match(/^\.\.\/(?:\.\.\/actors\/)?([a-z-]+)\//)?.[1];
          if (spec.startsWith('../') && !spec.startsWith('../../src/') && other !== undefined && other !== kind) {
            offenders.push(`${relative(root, file)} imports ${spec}`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
