// Columns as runc, docker and podman print them: each as wide as its widest cell plus three spaces, the
// last one not padded, no blanks at the end of a line. The first row is the header.
// By hand: three lines, where a table package would draw borders runc's and docker's output has not.
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))).join('').trimEnd()).join('\n');
}
