/**
 * The TypeScript snippets of README.md (and docs/*.md) as one module per document, so that they can be typechecked
 * against this repository's sources.
 *
 * A document reads top to bottom, and so do its snippets: each later snippet sees what the earlier ones declared (the
 * quickstart's `nodes`, `leader`, `KeyValueStore`, ...). Snippet k's body is nested in a block inside snippet k-1's,
 * so a later snippet may also declare a name again. `import` lines are hoisted to the top of the module. A block
 * preceded by `<!-- snippet: skip -->` is left out (for deliberately partial code; use it sparingly).
 */

export interface Snippet {
  /** 1-based line of the opening fence in the document. */
  readonly line: number;
  readonly code: string;
  readonly skipped: boolean;
}

const fence = /^```(ts|typescript)\s*$/;

export function extractSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!fence.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let previous = start - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const skipped = previous >= 0 && /^<!--\s*snippet:\s*skip\s*-->$/.test(lines[previous]!.trim());
    snippets.push({ line: start + 1, code: body.join('\n'), skipped });
  }
  return snippets;
}

/** One module holding every snippet that is not skipped; `// README.md:LINE` marks where each came from. */
export function snippetModule(document: string, snippets: readonly Snippet[]): string {
  const imports: string[] = [];
  const bodies: string[] = [];
  for (const snippet of snippets.filter(({ skipped }) => !skipped)) {
    const body: string[] = [`// ${document}:${snippet.line}`];
    for (const line of snippet.code.split('\n')) {
      if (/^import\s/.test(line)) {
        if (!imports.includes(line)) imports.push(line);
        body.push('');
      } else body.push(line);
    }
    bodies.push(body.join('\n'));
  }
  const opened = bodies.map((body, k) => (k === 0 ? body : `{\n${body}`));
  return [...imports, '', opened.join('\n'), '}'.repeat(Math.max(0, bodies.length - 1)), 'export {};', ''].join('\n');
}
