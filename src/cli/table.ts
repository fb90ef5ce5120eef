/** Plain-text tables for the `xraft` command: a header row, a rule, and columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

/** A two-column table of names and values. */
export function formatPairs(pairs: readonly (readonly [string, string])[]): string {
  return formatTable(['FIELD', 'VALUE'], pairs);
}

/** `text` cut to `width` characters, with an ellipsis when cut. */
export function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`;
}
