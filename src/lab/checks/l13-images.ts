// Lesson 13: images, layers, whiteouts, an overlay root built by hand. The check lays out three tiny layers of
// its own as a layer tar would unpack them (a file of layer 1 overwritten by layer 2, deleted by a whiteout in
// layer 3; a directory layer 2 makes opaque), and has the learner's applyWhiteout turn each OCI marker into
// overlayfs's form, which it then reads from the layer directories (a 0:0 character device; the
// trusted.overlay.opaque xattr). The learner's mountOverlay mounts them in a private mount namespace held open
// by a shell of the check's own, so nothing reaches the host and the mount goes when that shell ends. Through
// that shell's /proc entry the check reads the kernel's view: its mountinfo (an overlay at the target,
// lowerdir top layer first), the merged files, and where a write and a delete land (the upper dir). A mount
// that fails with EINVAL is explained by what overlayfs logged in the kernel log.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lgetxattr } from '../../linux/xattr.js';
import { kernelLogEnd, kernelMessagesSince } from './kernel-log.js';
import { errorText, fail, readText, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const SCRATCH_PREFIX = 'tslab-check13-';
const OPAQUE_XATTR = 'trusted.overlay.opaque';
/** How long mountOverlay may take in its namespace before the check gives up on it. */
const HOLD_TIMEOUT_MS = 20_000;

/** One entry of a layer, in archive order: a file with its text, a directory (text undefined), or a whiteout marker. */
interface Entry {
  path: string;
  text?: string;
}

const MOTD = ['motd of layer 1\n', 'motd of layer 2\n'];
const LAYERS: Entry[][] = [
  [
    { path: 'motd', text: MOTD[0] },
    { path: 'gone.txt', text: 'a file that layer 3 deletes\n' },
    { path: 'cache' },
    { path: 'cache/old', text: "layer 1's cache\n" },
  ],
  [{ path: 'motd', text: MOTD[1] }, { path: 'cache' }, { path: 'cache/.wh..wh..opq' }, { path: 'cache/new', text: "layer 2's cache\n" }],
  [{ path: '.wh.gone.txt' }, { path: 'notes', text: 'notes of layer 3\n' }],
];

const ORDER_HINT =
  "overlayfs reads lowerdir from the top: the first directory listed hides the ones after it. lowerDirs comes lowest first, so list it reversed: [...lowerDirs].reverse().join(':')";
const WHITEOUT_HINT =
  "overlayfs's whiteout is a character device with device number 0:0, named as the file it hides (without '.wh.'): mknod(path.join(dir, name), S_IFCHR, makedev(0, 0)). Anything else (an empty regular file...) is just a file to overlayfs, and shows";
const OPAQUE_HINT = `'.wh..wh..opq' marks its directory itself opaque: lsetxattr(dir, '${OPAQUE_XATTR}', 'y'). Without it the directory's lower copies show through`;

/** What overlayfs's EINVAL reasons (its kernel log lines) mean for the learner's mount. */
const EINVAL_REASONS: Array<[RegExp, string]> = [
  [/missing 'workdir'/, "upperdir needs a workdir: the options must end with ',workdir=' + workDir"],
  [
    /must reside under the same mount/,
    'workdir must be on the same filesystem (the same mount) as upperdir: overlayfs prepares a file in workdir and rename(2)s it into upperdir, which cannot cross filesystems. Pass the workDir you are given',
  ],
  [
    /must be separate subtrees/,
    "workdir may not be inside upperdir (nor upperdir inside workdir): what overlayfs prepares there would show in the container's files. Pass the workDir you are given, a sibling of upperDir",
  ],
];
const EINVAL_HINT =
  'EINVAL from an overlay mount: overlayfs refused its options. workdir= is required with upperdir=; workdir must be an empty directory on the same filesystem as upperdir and neither inside the other; every lowerdir must exist. `dmesg | tail` shows the reason overlayfs gave';

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code;

/** What is at `p`, for `saw`: "a character device 0:0", "a regular file of 12 bytes", "nothing (ENOENT)". */
function describePath(p: string): string {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    return `nothing (${errorCode(err) ?? errorText(err)})`;
  }
  if (st.isCharacterDevice()) return `a character device ${Math.floor(st.rdev / 256) & 0xfff}:${st.rdev & 0xff}`;
  if (st.isFile()) return `a regular file of ${st.size} bytes`;
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'a special file';
}

function isWhiteout(p: string): boolean {
  try {
    const st = fs.lstatSync(p);
    return st.isCharacterDevice() && st.rdev === 0;
  } catch {
    return false;
  }
}

function opaqueValue(dir: string): string | undefined {
  try {
    return lgetxattr(dir, OPAQUE_XATTR)?.toString();
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string {
  try {
    return fs.readdirSync(dir).sort().join(' ') || '(empty)';
  } catch (err) {
    return `unreadable (${errorCode(err) ?? errorText(err)})`;
  }
}

/** Removes what an earlier run left when its process was killed midway (its owner pid is gone). */
function removeStaleRuns(): void {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(SCRATCH_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(readText(path.join(dir, 'owner')));
    if (!Number.isInteger(owner) || owner <= 0 || fs.existsSync(`/proc/${owner}`)) continue;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

interface Layout {
  scratch: string;
  layers: string[];
  upper: string;
  work: string;
  merged: string;
}

function makeLayout(): Layout {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), SCRATCH_PREFIX));
  fs.writeFileSync(path.join(scratch, 'owner'), String(process.pid));
  const layout = {
    scratch,
    layers: LAYERS.map((_, i) => path.join(scratch, 'layers', String(i + 1))),
    upper: path.join(scratch, 'upper'),
    work: path.join(scratch, 'work'),
    merged: path.join(scratch, 'merged'),
  };
  for (const dir of [...layout.layers, layout.upper, layout.work, layout.merged]) fs.mkdirSync(dir, { recursive: true });
  return layout;
}

/**
 * Writes each layer's files as an unpacker would, and asks the learner's applyWhiteout for each marker.
 * Returns the failures of applyWhiteout (one per marker it threw on).
 */
async function unpackLayers(ctx: CheckContext, layout: Layout): Promise<CheckResult[]> {
  const failures: CheckResult[] = [];
  for (const [i, entries] of LAYERS.entries()) {
    for (const entry of entries) {
      const full = path.join(layout.layers[i], entry.path);
      const marker = path.basename(entry.path);
      if (marker.startsWith('.wh.')) {
        try {
          await ctx.probe('applyWhiteout', [path.dirname(full), marker]);
        } catch (err) {
          failures.push(
            fail(
              `applyWhiteout turns layer ${i + 1}'s ${entry.path} into overlayfs's form`,
              `applyWhiteout(${JSON.stringify(path.dirname(full))}, ${JSON.stringify(marker)}) threw ${errorText(err)}`,
              marker === '.wh..wh..opq' ? `${OPAQUE_XATTR}=y on the directory` : 'a character device 0:0 named as the file it hides',
              marker === '.wh..wh..opq' ? OPAQUE_HINT : WHITEOUT_HINT,
            ),
          );
        }
      } else if (entry.text === undefined) {
        fs.mkdirSync(full, { recursive: true });
      } else {
        fs.writeFileSync(full, entry.text);
      }
    }
  }
  return failures;
}

/** What applyWhiteout left in the layer directories, read from them. */
function whiteoutResults(layout: Layout): CheckResult[] {
  const [, middle, top] = layout.layers;
  const device = path.join(top, 'gone.txt');
  const opaque = opaqueValue(path.join(middle, 'cache'));
  const leftMarkers = [path.join(top, '.wh.gone.txt'), path.join(middle, 'cache', '.wh..wh..opq')].filter((p) => fs.existsSync(p));
  return [
    verdict(
      "layer 3's .wh.gone.txt became overlayfs's whiteout: a character device 0:0 named gone.txt",
      isWhiteout(device),
      `layers/3/gone.txt is ${describePath(device)}; layers/3 holds: ${listDir(top)}`,
      'layers/3/gone.txt a character device 0:0',
      WHITEOUT_HINT,
    ),
    verdict(
      `layer 2's cache/.wh..wh..opq made cache opaque: ${OPAQUE_XATTR} = "y"`,
      opaque === 'y',
      opaque === undefined ? `layers/2/cache has no ${OPAQUE_XATTR}` : `layers/2/cache has ${OPAQUE_XATTR} = ${JSON.stringify(opaque)}`,
      `${OPAQUE_XATTR} = "y" on layers/2/cache`,
      OPAQUE_HINT,
    ),
    verdict(
      'the markers themselves are not in the layers (an unpacker writes the overlay form instead)',
      leftMarkers.length === 0,
      leftMarkers.length
        ? leftMarkers.map((p) => path.relative(layout.scratch, p)).join(', ')
        : layout.layers.map((dir, i) => `layers/${i + 1}: ${listDir(dir)}`).join('; '),
      'no .wh.* file in the layer directories',
      'applyWhiteout writes only the device (or the xattr); the lab never writes the .wh.* marker itself, so do not create it',
    ),
  ];
}

/** A shell in a private mount namespace of its own where the learner's mountOverlay ran; it stays until released. */
interface Holder {
  pid: number;
  reply: { ok: boolean; error?: string } | undefined;
  output: string;
  timedOut: boolean;
  release(): Promise<void>;
}

function holdMountNamespace(ctx: CheckContext, args: unknown[]): Promise<Holder> {
  const probe = path.join(ctx.build.dir, 'lab', 'container', 'probe.cjs');
  const script = `"$0" "$1" "$2" "$3"; echo --held--; read _`;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, process.execPath, probe, 'mountOverlay', JSON.stringify(args)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // its own process group: a hung piece is killed with the shell
  });
  // The shell may be gone before it is released: writing to its stdin then fails, which changes nothing.
  child.stdin.on('error', () => {});
  const killAll = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let output = '';
  // 'close' after the shell ends; 'error' alone when unshare(1) could not be started at all.
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', (err) => {
      output += `${errorText(err)}\n`;
      resolve();
    });
  });
  const release = async () => {
    child.stdin.end();
    const timer = setTimeout(killAll, 5000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const lines = output.slice(0, output.includes('--held--') ? output.indexOf('--held--') : undefined).trim().split('\n');
      let reply: Holder['reply'];
      try {
        reply = JSON.parse(lines.pop() ?? '');
      } catch {
        reply = undefined;
      }
      resolve({ pid: child.pid ?? -1, reply, output, timedOut, release });
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killAll();
    }, HOLD_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      output += s;
      if (output.includes('--held--\n')) done();
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => (output += s));
    void exited.then(() => done());
  });
}

/** The `lowerdir=` list of an overlay's superblock options in mountinfo, each resolved. */
function lowerdirOf(pid: number, target: string): { found: boolean; fsType?: string; lower: string[]; options: string } {
  const line = (readText(`/proc/${pid}/mountinfo`) ?? '').split('\n').find((l) => l.split(' ')[4] === target);
  if (!line) return { found: false, lower: [], options: '' };
  const [fsType = '', , options = ''] = (line.split(' - ')[1] ?? '').split(' ');
  const lowerOption = options.split(',').find((o) => o.startsWith('lowerdir='));
  const lower = lowerOption ? lowerOption.slice('lowerdir='.length).split(':').map((p) => path.resolve(p)) : [];
  return { found: true, fsType, lower, options };
}

function mountFailure(layout: Layout, holder: Holder, logEnd: number): CheckResult {
  const error = holder.reply?.error ?? '';
  const what = error
    ? `mountOverlay threw ${error}`
    : holder.timedOut
      ? `mountOverlay had not returned after ${HOLD_TIMEOUT_MS / 1000} s (a loop that never ends?)`
      : `mountOverlay crashed: ${holder.output.trim().split('\n').slice(-2).join(' / ') || 'no output'}`;
  const reasons = kernelMessagesSince(logEnd, 'overlayfs:');
  const explained = reasons.flatMap((r) => EINVAL_REASONS.filter(([re]) => re.test(r)).map(([, why]) => why));
  return fail(
    `mountOverlay mounts an overlay at ${layout.merged}`,
    `${what}${reasons.length ? `; the kernel log says: ${reasons.join(' / ')}` : ''}`,
    `overlay on ${layout.merged}`,
    explained.length ? explained.join('; ') : /EINVAL/.test(error) ? EINVAL_HINT : 'mount(\'overlay\', target, \'overlay\', 0, \'lowerdir=...,upperdir=...,workdir=...\')',
  );
}

/** Reads the merged view (through the holder's /proc entry, in its mount namespace) and writes into it. */
function mergedResults(layout: Layout, pid: number, orderOk: boolean, whiteoutOk: boolean, opaqueOk: boolean): CheckResult[] {
  const merged = `/proc/${pid}/root${layout.merged}`;
  const [lowest, middle, top] = layout.layers;
  const motd = readText(path.join(merged, 'motd'));
  const upsideDown = 'the layers are upside down (see lowerdir above): a layer hides only what is below it. ' + ORDER_HINT;
  const results: CheckResult[] = [
    verdict(
      'merged/motd is the highest layer\'s copy (layer 2 overwrote layer 1\'s)',
      motd === MOTD[1],
      `merged/motd reads ${JSON.stringify(motd ?? null)}`,
      JSON.stringify(MOTD[1]),
      orderOk ? 'the merged view shows the first lowerdir that has a file' : ORDER_HINT,
    ),
    verdict(
      "merged/gone.txt is gone (layer 3's whiteout), while layers/1/gone.txt is still there",
      describePath(path.join(merged, 'gone.txt')) === 'nothing (ENOENT)' && fs.existsSync(path.join(lowest, 'gone.txt')),
      `merged/gone.txt is ${describePath(path.join(merged, 'gone.txt'))}; layers/1/gone.txt is ${describePath(path.join(lowest, 'gone.txt'))}`,
      'merged/gone.txt: nothing (ENOENT); layers/1/gone.txt: a regular file',
      !orderOk ? upsideDown : !whiteoutOk ? WHITEOUT_HINT : 'the whiteout must sit in a layer above the file it hides',
    ),
    verdict(
      "merged/cache holds only layer 2's new (opaque), while layers/1/cache/old is still there",
      listDir(path.join(merged, 'cache')) === 'new' && fs.existsSync(path.join(lowest, 'cache', 'old')),
      `merged/cache holds: ${listDir(path.join(merged, 'cache'))}`,
      'merged/cache holds: new',
      !orderOk ? upsideDown : !opaqueOk ? OPAQUE_HINT : 'the opaque directory must sit in a layer above the one it hides',
    ),
  ];

  // A write to a lower file copies it up: the upper dir gets the new content, the layers keep theirs.
  const written = 'written in the merged view\n';
  let writeError = '';
  try {
    fs.writeFileSync(path.join(merged, 'motd'), written);
  } catch (err) {
    writeError = errorText(err);
  }
  const upperMotd = readText(path.join(layout.upper, 'motd'));
  const layerMotd = readText(path.join(middle, 'motd'));
  results.push(
    verdict(
      'a write to merged/motd lands in upperdir (copy-up); layer 2 keeps its copy',
      !writeError && upperMotd === written && layerMotd === MOTD[1],
      writeError
        ? `writing merged/motd failed: ${writeError}`
        : `upper/motd reads ${JSON.stringify(upperMotd ?? null)}; layers/2/motd reads ${JSON.stringify(layerMotd ?? null)}`,
      `upper/motd ${JSON.stringify(written)}; layers/2/motd ${JSON.stringify(MOTD[1])}`,
      'writes go to upperdir: pass upperDir as upperdir= (and the layers only as lowerdir=)',
    ),
  );

  // Deleting a file of a lower layer: overlayfs writes the same whiteout into the upper dir.
  let deleteError = '';
  try {
    fs.unlinkSync(path.join(merged, 'notes'));
  } catch (err) {
    deleteError = errorText(err);
  }
  const upperNotes = path.join(layout.upper, 'notes');
  results.push(
    verdict(
      'deleting merged/notes leaves a whiteout (0:0) in upperdir; layers/3/notes stays',
      !deleteError && isWhiteout(upperNotes) && fs.existsSync(path.join(top, 'notes')),
      deleteError ? `deleting merged/notes failed: ${deleteError}` : `upper/notes is ${describePath(upperNotes)}; layers/3/notes is ${describePath(path.join(top, 'notes'))}`,
      'upper/notes a character device 0:0; layers/3/notes a regular file',
      'the kernel writes whiteouts into upperdir itself: pass upperDir as upperdir=',
    ),
  );
  return results;
}

async function overlayResults(ctx: CheckContext, layout: Layout, whiteoutOk: boolean, opaqueOk: boolean): Promise<CheckResult[]> {
  const logEnd = kernelLogEnd();
  const holder = await holdMountNamespace(ctx, [layout.layers, layout.upper, layout.work, layout.merged]);
  try {
    const mounted = lowerdirOf(holder.pid, layout.merged);
    if (!holder.reply?.ok && !mounted.found) return [mountFailure(layout, holder, logEnd)];
    const expected = [...layout.layers].reverse();
    const short = (dirs: string[]) => dirs.map((d) => path.relative(layout.scratch, d)).join(':');
    const isOverlay = mounted.found && mounted.fsType === 'overlay';
    const orderOk = isOverlay && mounted.lower.join(':') === expected.join(':');
    const results: CheckResult[] = [
      verdict(
        `an overlay is mounted at ${layout.merged}`,
        isOverlay,
        mounted.found ? `${mounted.fsType} at ${layout.merged}` : `nothing mounted at ${layout.merged}${holder.reply?.ok ? ' (mountOverlay returned without an error)' : ''}`,
        `overlay at ${layout.merged}`,
        "mount('overlay', target, 'overlay', 0, options): the fourth argument is where it goes",
      ),
    ];
    if (!isOverlay) return results;
    results.push(
      verdict(
        'lowerdir lists the top layer first (layers/3:layers/2:layers/1)',
        orderOk,
        `lowerdir=${short(mounted.lower)} (under ${layout.scratch})`,
        `lowerdir=${short(expected)}`,
        ORDER_HINT,
      ),
      ...mergedResults(layout, holder.pid, orderOk, whiteoutOk, opaqueOk),
    );
    return results;
  } finally {
    await holder.release();
  }
}

export const check: LessonCheck = async (ctx) => {
  removeStaleRuns();
  const layout = makeLayout();
  try {
    const thrown = await unpackLayers(ctx, layout);
    const whiteouts = whiteoutResults(layout);
    const overlay = await overlayResults(ctx, layout, whiteouts[0].ok, whiteouts[1].ok);
    return [...(thrown.length ? thrown : whiteouts), ...overlay];
  } finally {
    // The overlay lived only in the holder's mount namespace, gone with it: only files are left to remove.
    fs.rmSync(layout.scratch, { recursive: true, force: true });
  }
};
