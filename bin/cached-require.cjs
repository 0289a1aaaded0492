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
// V8 puts in a cache the functions compiled so far. Made right after compiling, that is the top level only, and
// every other function is compiled again at each start. So the CLI writes its cache once its command has run
// (saveCache, after main()): measured on `run` of /bin/true, 122 ms of CPU against 131 (median of 30 paired
// runs); a command that uses fewer functions loses nothing by the larger cache (`list`: -0.2 ms). The cache
// of `create` and `run` is kept apart from the other commands' (`variant`): a `spec` or `state` that ran first
// would otherwise leave a cache without create's functions for good.
//
// Used two ways: required by bin/tslab-runtime.cjs (loadBundle, then saveCache), and as the main script that
// starts the PID-1 stage: `node cached-require.cjs <bundle>`. The stage changes its root to the container's,
// after which the cache directory is out of reach: it emits CACHE_EVENT on `process` just before, and its cache
// is written then (run of /bin/true: 128.4 -> 123.6 ms of CPU, median of 30 paired runs).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');

const DIST = path.join(__dirname, '..', 'dist');
const CACHE_EVENT = 'tslab:code-cache';
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

/**
 * Runs the bundle as require() would. Returns its exports and saveCache(), which writes the code cache if this
 * run found none it could use: at once, or with `late` when saveCache is called, or with `saveOn` when the
 * bundle emits that event on `process`. `variant` names a cache of its own for the same bundle.
 */
function loadBundle(bundle, { late = false, saveOn, variant = '' } = {}) {
  const file = path.resolve(bundle);
  const dir = path.relative(DIST, file).startsWith('..') ? undefined : cacheDir();
  if (!dir) return { exports: require(file), saveCache() {} };
  const source = fs.readFileSync(file, 'utf8');
  const stat = fs.statSync(file);
  const name = `${path.relative(DIST, file).replaceAll(path.sep, '_')}${variant && `.${variant}`}.${stat.ino}-${stat.size}-${Math.trunc(stat.mtimeMs)}.${process.version}-${process.arch}`;
  const cacheFile = path.join(dir, name);
  const cachedData = readCache(cacheFile);
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const stale = !cachedData || script.cachedDataRejected;
  // Checked again when written late: the directory must still be root's own and private.
  const saveCache = () => {
    if (stale && cacheDir() === dir) writeCache(cacheFile, script.createCachedData());
  };
  if (saveOn) process.once(saveOn, saveCache);
  else if (!late) saveCache();
  const mod = { id: file, filename: file, exports: {}, loaded: false };
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
  mod.loaded = true;
  return { exports: mod.exports, saveCache: late ? saveCache : () => {} };
}

module.exports = { loadBundle };

if (require.main === module) loadBundle(process.argv[2], { saveOn: CACHE_EVENT });
