// One handle on libc, with each function declared the first time it is used: declaring all of them
// up front would cost start-up time in every process, including the container's PID-1 stage.
import { createRequire } from 'node:module';
import type KoffiModule from 'koffi';
import { SyscallError } from './error.js';

// Loaded through require(): koffi's ESM entry costs about twice as much start-up time as its CommonJS one.
export const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
const libc = koffi.load('libc.so.6');
type LibcFunction = ReturnType<typeof libc.func>;
const declared = new Map<string, LibcFunction>();

export function fn(prototype: string): LibcFunction {
  let f = declared.get(prototype);
  if (!f) {
    f = libc.func(prototype);
    declared.set(prototype, f);
  }
  return f;
}

export function errno(): number {
  return koffi.errno();
}

/** Throws a SyscallError when a libc call returned -1, reading errno right after the call. */
export function check(result: number | bigint, syscall: string, path?: string): number {
  if (result === -1 || result === -1n) throw new SyscallError(syscall, koffi.errno(), path);
  return Number(result);
}
