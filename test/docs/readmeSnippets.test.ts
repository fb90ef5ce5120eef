/**
 * The README's TypeScript must compile against this repository: every ```ts block of README.md (and docs/*.md) is
 * typechecked with `xraft`, `xraft/level`, ... mapped to the sources that package.json exports (see readmeSnippets.ts
 * for how the blocks of one document become one module).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { expect, test } from 'vitest';
import { extractSnippets, snippetModule } from './readmeSnippets.js';

const root = join(import.meta.dirname, '..', '..');

function documents(): string[] {
  const docs = join(root, 'docs');
  const extra = existsSync(docs) ? readdirSync(docs).filter((name) => name.endsWith('.md')).map((name) => join('docs', name)) : [];
  return ['README.md', ...extra];
}

/** `xraft/<sub>` → the source file whose build package.json exports under `./<sub>`. */
function exportedSources(): Record<string, string[]> {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types: string }> };
  const paths: Record<string, string[]> = {};
  for (const [subpath, { types }] of Object.entries(manifest.exports)) {
    const source = join(root, types.replace(/^\.\/dist\//, '').replace(/\.d\.ts$/, '.ts'));
    if (!existsSync(source)) throw new Error(`package.json exports ${subpath} as ${types}, but ${relative(root, source)} does not exist`);
    paths[subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`] = [source];
  }
  return paths;
}

test('the TypeScript snippets of the README compile against the sources', () => {
  const cache = join(root, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  // Inside the repository, so that the snippets resolve zod, vitest, ... from its node_modules.
  const directory = mkdtempSync(join(cache, 'xraft-snippets-'));
  const files: { file: string; document: string }[] = [];
  for (const document of documents()) {
    const snippets = extractSnippets(readFileSync(join(root, document), 'utf8'));
    if (document === 'README.md') {
      expect(snippets.length, 'README.md has TypeScript snippets').toBeGreaterThanOrEqual(5);
      const read = snippets.find(({ code }) => code.includes('.read('));
      expect(read?.skipped, 'the read example is compiled, not skipped').toBe(false);
    }
    const file = join(directory, `${document.replace(/[\\/]/g, '_').replace(/\.md$/, '')}.mts`);
    writeFileSync(file, snippetModule(document, snippets));
    files.push({ file, document });
  }
  writeFileSync(join(directory, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'],
      strict: true, noImplicitOverride: true, skipLibCheck: true, verbatimModuleSyntax: true, noEmit: true,
      paths: exportedSources(),
    },
    files: files.map(({ file }) => file),
  }, null, 2));
  let output = '';
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(directory, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  // Errors inside the snippets, at their place in the document; errors in src/ are the main typecheck's business.
  const inSnippets = output.split('\n').flatMap((line) => {
    for (const { file, document } of files) {
      // tsc names files relative to the working directory: match on the directory's and the file's names.
      const name = `${basename(directory)}/${basename(file)}`;
      const at = line.indexOf(name);
      if (at === -1) continue;
      const match = /^\((\d+),(\d+)\): (.*)$/.exec(line.slice(at + name.length));
      if (match === null) return [line];
      return [`${document}:${documentLine(readFileSync(file, 'utf8'), Number(match[1]))}: ${match[3]}`];
    }
    return [];
  });
  expect(inSnippets, `tsc on the snippets (module kept in ${relative(root, directory)} when this fails):\n${output}`).toEqual([]);
  // Kept when the check fails, for a look (the message names it).
  rmSync(directory, { recursive: true, force: true });
}, 120_000);

/** Map a line of a snippet module back to its document: the last `// DOC:LINE` marker above it plus the distance. */
function documentLine(module: string, moduleLine: number): number {
  const lines = module.split('\n');
  for (let i = moduleLine - 1; i >= 0; i--) {
    const marker = /^\/\/ .+:(\d+)$/.exec(lines[i]!);
    if (marker !== null) return Number(marker[1]) + (moduleLine - 1 - i);
  }
  return 0;
}
