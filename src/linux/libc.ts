// One handle on libc, with each function declared the first time it is used: declaring all of them
// up front would cost start-up time in every process, including the container's PID-1 stage.
import { createRequire } from 'node:module';
import type KoffiModule from 'koffi';
import { SyscallError } from './error.js';

/**
 * koffi's native addon, loaded straight from its platform package: koffi's own entry finds the same file by
 * reading node's ELF header for the libc flavour and loading two packages' JavaScript through the CommonJS
 * loader, which cost ~10 ms at every start of each of a container's two Node processes (the addon alone:
 * ~3 ms, measured here). The addon exports koffi's whole API. Anything unusual (musl, another layout)
 * takes koffi's own entry; its ESM entry would cost about twice as much as the CommonJS one.
 */
function loadKoffi(): typeof KoffiModule {
  const require = createRequire(import.meta.url);
  if (process.platform === 'linux') {
    try {
      const platformPackage = require.resolve(`@koromix/koffi-linux-${process.arch}/package.json`);
      const addon = { exports: {} as typeof KoffiModule };
      process.dlopen(addon, `${platformPackage.slice(0, -'package.json'.length)}linux_${process.arch}/koffi.node`);
      if (typeof addon.exports.load === 'function') return addon.exports;
    } catch {
      // Not laid out as npm installs it for glibc: koffi knows the other ways.
    }
  }
  return require('koffi') as typeof KoffiModule;
}

export const koffi = loadKoffi();
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
