// runc's error reporting: stderr for people, and --log (text or JSON lines) for engines that read it.
import * as fs from 'node:fs';
import { writeErr } from './output.js';

export interface LogOptions {
  file?: string;
  format: 'text' | 'json';
  debug: boolean;
}

export class Logger {
  constructor(private readonly opts: LogOptions) {}

  private write(level: 'error' | 'warning' | 'debug', msg: string): void {
    if (!this.opts.file) return;
    const time = new Date().toISOString();
    const line =
      this.opts.format === 'json'
        ? JSON.stringify({ level, msg, time })
        : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      fs.appendFileSync(this.opts.file, `${line}\n`);
    } catch {
      // The log is a courtesy; the message still reaches stderr.
    }
  }

  error(msg: string): void {
    this.write('error', msg);
    writeErr(`tslab-runtime: ${msg}\n`);
  }

  warn(msg: string): void {
    this.write('warning', msg);
    writeErr(`tslab-runtime: warning: ${msg}\n`);
  }

  debug(msg: string): void {
    if (!this.opts.debug) return;
    this.write('debug', msg);
    writeErr(`tslab-runtime: debug: ${msg}\n`);
  }
}
