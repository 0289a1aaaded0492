// `tslab demo LESSON`: an instructor's run of a lesson in front of a room. Reference steps, every cell in
// order, commands typed out, a pause for a key (or --auto SECONDS) between cells, then everything cleaned up
// so the demo can be run again.
import { setTimeout as sleep } from 'node:timers/promises';
import { findLesson, loadCatalog, loadLesson } from './catalog.js';
import { cellsOf, type Cell } from './markdown.js';
import { Notebook } from './notebook.js';
import { renderCellHeader, renderCellBody, renderProse, style } from './render.js';

export interface DemoOptions {
  lesson: string;
  /** Seconds between cells; undefined waits for a key. */
  autoSeconds?: number;
  write: (text: string) => void;
}


async function typeOut(cell: Cell, write: (text: string) => void): Promise<void> {
  const body = renderCellBody(cell);
  if (!process.stdout.isTTY) {
    write(`${body}\n`);
    return;
  }
  for (const ch of body) {
    write(ch);
    if (ch.trim()) await sleep(12);
  }
  write('\n');
}

/** Resolves on the next key; Ctrl-C rejects so the demo cleans up and stops. */
function waitForKey(): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.once('data', (data: Buffer) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      if (data[0] === 3) reject(new Error('interrupted'));
      else resolve();
    });
  });
}

export async function runDemo(opts: DemoOptions, notebook: Notebook): Promise<number> {
  const catalog = loadCatalog();
  const lesson = loadLesson(findLesson(catalog, opts.lesson));
  opts.write(`${style.title(`Demo — lesson ${lesson.number}: ${lesson.title}`)}\n`);
  const warning = await notebook.prepare(lesson);
  if (warning) opts.write(`${style.warn(warning)}\n`);
  const cells = cellsOf(lesson.doc).length;
  let index = 0;
  let failures = 0;
  for (const segment of lesson.doc.segments) {
    if (segment.type === 'prose') {
      opts.write(renderProse(segment.text));
      continue;
    }
    opts.write(`${renderCellHeader(segment.cell, index++, cells)}\n`);
    await typeOut(segment.cell, opts.write);
    const ok = await notebook.runCell(lesson, segment.cell);
    if (!ok && (segment.cell.kind === 'enable' || segment.cell.kind === 'check')) failures++;
    if (index < cells) {
      if (opts.autoSeconds !== undefined) await sleep(opts.autoSeconds * 1000);
      else if (process.stdin.isTTY) {
        opts.write(style.dim('  (any key: next cell, Ctrl-C: stop)\n'));
        await waitForKey();
      }
    }
  }
  const undone = notebook.cleanup();
  opts.write(style.dim(`Demo over; cleaned up: ${undone.length ? undone.join(', ') : 'nothing to undo'}.\n`));
  return failures ? 1 : 0;
}
