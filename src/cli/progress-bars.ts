// Progress of `tslab pull`: one bar per layer, redrawn in place on a terminal; on anything else (a pipe,
// a CI log) one plain line per layer and state change (started, resumed, retrying, done), no bars.
// By hand: the bars are one line of text each; a package (cli-progress) would add a dependency for the drawing alone.
import { shortDigest } from '../image/digest.js';
import type { LayerProgress } from '../image/pull.js';

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Draw bars (default: the output is a TTY). */
  tty?: boolean;
  /** Redraw at most this often while only byte counts change (default 100 ms). */
  intervalMs?: number;
  /** Show the config blob too (default: layers only). */
  showConfig?: boolean;
  now?: () => number;
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1536 -> "1.5 kB", as docker prints sizes (powers of 1000). */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ${UNITS[unit]}`;
}

/** `[=====>      ]` of `width` characters inside the brackets. */
export function renderBar(done: number, total: number, width: number): string {
  const w = Math.max(1, width);
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.floor(fraction * w);
  if (filled >= w) return `[${'='.repeat(w)}]`;
  return `[${'='.repeat(filled)}>${' '.repeat(w - filled - 1)}]`;
}

const STATUS_TEXT: Record<LayerProgress['status'], string> = {
  waiting: 'waiting',
  downloading: 'downloading',
  resuming: 'resuming',
  retrying: 'retrying',
  exists: 'already here',
  done: 'done',
};

export class PullProgress {
  private readonly rows = new Map<string, LayerProgress>();
  private drawn = 0;
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(
    private readonly out: ProgressOutput = process.stderr,
    private readonly options: ProgressOptions = {},
  ) {
    this.tty = options.tty ?? out.isTTY === true;
    this.intervalMs = options.intervalMs ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** Feed every progress event of a pull here. */
  update(p: LayerProgress): void {
    if (p.kind === 'config' && !this.options.showConfig) return;
    const before = this.rows.get(p.digest);
    this.rows.set(p.digest, p);
    const changed = before?.status !== p.status;
    if (!this.tty) {
      if (changed) this.out.write(`${this.plainLine(p)}\n`);
      return;
    }
    if (changed || this.now() - this.lastDraw >= this.intervalMs) this.draw();
  }

  /** A line of text above the bars (or among the plain lines). */
  message(line: string): void {
    if (!this.tty) {
      this.out.write(`${line}\n`);
      return;
    }
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  /** Draws the final state (a TTY) and leaves the cursor below it. */
  finish(): void {
    if (this.tty && this.rows.size) this.draw();
    this.drawn = 0;
  }

  private label(p: LayerProgress): string {
    return p.kind === 'config' ? `config ${shortDigest(p.digest)}` : shortDigest(p.digest);
  }

  private plainLine(p: LayerProgress): string {
    const label = this.label(p);
    switch (p.status) {
      case 'downloading':
        return `${label}: downloading ${formatBytes(p.total)}`;
      case 'resuming':
        return `${label}: resuming at ${formatBytes(p.done)} of ${formatBytes(p.total)}`;
      case 'retrying':
        return `${label}: retrying (${formatBytes(p.done)} of ${formatBytes(p.total)} kept)`;
      case 'exists':
        return `${label}: already in the store`;
      case 'done':
        return `${label}: done (${formatBytes(p.total)})`;
      default:
        return `${label}: ${STATUS_TEXT[p.status]}`;
    }
  }

  private row(p: LayerProgress, columns: number): string {
    const label = this.label(p).padEnd(12);
    const status = STATUS_TEXT[p.status].padEnd(12);
    if (p.status === 'exists' || p.status === 'done') {
      return `${label} ${status} ${formatBytes(p.total)}`.slice(0, columns - 1);
    }
    const sizes = `${formatBytes(p.done)} / ${formatBytes(p.total)}`;
    const barWidth = Math.max(10, Math.min(50, columns - label.length - status.length - sizes.length - 6));
    return `${label} ${status} ${renderBar(p.done, p.total, barWidth)} ${sizes}`.slice(0, Math.max(20, columns - 1));
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const columns = this.out.columns && this.out.columns > 0 ? this.out.columns : 80;
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A\r` : '';
    for (const p of this.rows.values()) text += `\x1b[2K${this.row(p, columns)}\n`;
    this.out.write(text);
    this.drawn = this.rows.size;
    this.lastDraw = this.now();
  }
}
