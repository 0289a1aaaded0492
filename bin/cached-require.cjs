// Loads a bundle of this package's dist/ through V8's code cache, on every Node version (Node 20 has no
// module.enableCompileCache). Both of a container start's Node processes, the CLI and the PID-1 stage,
// otherwise parse their whole bundle at every start: measured here, `tslab-runtime --version` starts about
// 15% sooner with the cache.
//
// Code read from the cache runs as root, so the cache is root's alone: a directory inside dist/ (made by root,
// mode 0700, checked before use, never followed through a link), which no container sees. V8 checks little of
// what it loads (the source's length, not its text), so each entry is named after the bundle's inode, size and
// mtime: a rebuilt bundle never meets another's cache. Anything unusual and the bundle loads without a cache.
//
// Used two ways: required by bin/tslab-runtime.cjs (loadBundle), and as the main script that starts the
// PID-1 stage: `node cached-require.cjs <bundle>`.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const DIST = path.join(__dirname, '..', 'dist');
const CACHE_DIR = path.join(DIST, '.v8-cache');

/** The cache directory if it is root's own and private (made if missing), else undefined. */
function cacheDir() {
  if (process.geteuid?.() !== 0) return undefined;
  try {
    fs.mkdirSync(CACHE_DIR, { mode: 0o700 });
  } catch (err) {
    if (err.code !== 'EEXIST') return undefined;
  }
  try {
    const stat = fs.lstatSync(CACHE_DIR);
    return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o077) === 0 ? CACHE_DIR : undefined;
  } catch {
    return undefined;
  }
}

function readCache(file) {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/** Written under a name of its own, then renamed: a reader never sees half an entry. */
function writeCache(file, data) {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** Runs the bundle as require() would and returns its exports. */
function loadBundle(bundle) {
  const file = path.resolve(bundle);
  const dir = path.relative(DIST, file).startsWith('..') ? undefined : cacheDir();
  if (!dir) return require(file);
  const source = fs.readFileSync(file, 'utf8');
  const stat = fs.statSync(file);
  const name = `${path.relative(DIST, file).replaceAll(path.sep, '_')}.${stat.ino}-${stat.size}-${Math.trunc(stat.mtimeMs)}.${process.version}-${process.arch}`;
  const cacheFile = path.join(dir, name);
  const cachedData = readCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  // Made right after compiling, before the bundle runs: the stage soon changes its root to the container's.
  if (!cachedData || script.cachedDataRejected) writeCache(cacheFile, script.createCachedData());
  const mod = { id: file, filename: file, exports: {}, loaded: false };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  return mod.exports;
}

module.exports = { loadBundle };

if (require.main === module) loadBundle(process.argv[2]);
