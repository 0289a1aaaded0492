// Terminal output of the lab: Markdown prose through marked-terminal, cells as framed commands, results in
// colour (off with NO_COLOR or when not writing to a terminal).
import chalk from 'chalk';
import { Marked } from 'marked';
import { markedTerminal } from 'marked-terminal';
import type { Cell } from './markdown.js';
import type { DiffRow } from './kernel-state.js';
import type { CheckResult } from './checks/types.js';

if ('NO_COLOR' in process.env) chalk.level = 0;

const CELL_LABELS: Record<Cell['kind'], string> = {
  host: 'on the host',
  container: 'inside the lesson container',
  enable: 'switch the feature on',
  check: 'check',
};

function width(): number {
  return Math.min(process.stdout.columns || 80, 100);
}

export function renderProse(text: string): string {
  const marked = new Marked();
  // No emoji: `:name:` is common in the kernel formats the lessons quote (build.mjs drops node-emoji's names).
  marked.use(markedTerminal({ width: width(), reflowText: true, tab: 2, emoji: false }));
  // marked-terminal 7.3 prints the inline tokens of list items raw (**bold**, `code`): render them as marked does.
  marked.use({
    renderer: {
      text(token) {
        return 'tokens' in token && token.tokens ? this.parser.parseInline(token.tokens) : false;
      },
    },
  });
  return (marked.parse(text) as string).replace(/\n+$/, '\n');
}

export function renderCellHeader(cell: Cell, index: number, total: number): string {
  const label = CELL_LABELS[cell.kind] + (cell.args.length ? ` (${cell.args.join(' ')})` : '');
  return chalk.bold.cyan(`── cell ${index + 1}/${total}: ${label} `) + chalk.cyan('─'.repeat(Math.max(0, width() - label.length - 20)));
}

export function renderCellBody(cell: Cell): string {
  const prompt = cell.kind === 'host' ? '$ ' : cell.kind === 'container' ? '# ' : '» ';
  return cell.code
    .split('\n')
    .map((line, i) => `  ${chalk.dim(i === 0 ? prompt : '  ')}${cell.kind === 'host' || cell.kind === 'container' ? chalk.yellow(line) : line}`)
    .join('\n');
}

export function outputLine(line: string, stream: 'stdout' | 'stderr'): string {
  return `  ${chalk.dim('│')} ${stream === 'stderr' ? chalk.red(line) : line}`;
}

export function renderDiff(rows: DiffRow[], beforeTitle: string, afterTitle: string): string {
  const labelWidth = Math.max(...rows.map((r) => r.label.length));
  const beforeWidth = Math.min(38, Math.max(beforeTitle.length, ...rows.map((r) => r.before.length)));
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  const lines = [chalk.bold(`  ${''.padEnd(labelWidth)}  ${clip(beforeTitle, beforeWidth)}  ${afterTitle}`)];
  for (const row of rows) {
    const mark = row.changed ? chalk.green('●') : ' ';
    const after = row.changed ? chalk.green.bold(row.after) : chalk.dim(row.after);
    lines.push(`${mark} ${row.label.padEnd(labelWidth)}  ${chalk.dim(clip(row.before, beforeWidth))}  ${after}`);
  }
  return lines.join('\n');
}

export function renderCheckResults(results: CheckResult[]): string {
  return results
    .map((r) => {
      if (r.ok) return `  ${chalk.green('✔')} ${r.name}${r.saw ? chalk.dim(` (${r.saw})`) : ''}`;
      const lines = [`  ${chalk.red('✘')} ${r.name}`];
      if (r.saw !== undefined) lines.push(`      saw:      ${r.saw}`);
      if (r.expected !== undefined) lines.push(`      expected: ${r.expected}`);
      if (r.hint) lines.push(`      ${chalk.yellow('hint:')}     ${r.hint}`);
      return lines.join('\n');
    })
    .join('\n');
}

export const style = {
  title: (s: string) => chalk.bold.magenta(s),
  ok: (s: string) => chalk.green(s),
  warn: (s: string) => chalk.yellow(s),
  error: (s: string) => chalk.red(s),
  dim: (s: string) => chalk.dim(s),
  code: (s: string) => chalk.yellow(s),
};
