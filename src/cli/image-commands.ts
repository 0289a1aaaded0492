// `tslab images/rmi/import/pull`.
import { UsageError } from './args.js';
import { parseDockerArgs } from './docker-args.js';
import { formatTable } from './table.js';

function humanSize(bytes: number): string {
  if (bytes < 1000) return `${bytes}B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)}kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)}MB`;
  return `${(bytes / 1e9).toFixed(2)}GB`;
}

export async function imageCommand(
  name: string,
  argv: string[],
  json: boolean,
  write: (text: string) => void,
  warn: (text: string) => void = (text) => process.stderr.write(text),
): Promise<number> {
  const { ImageStore } = await import('../image/store.js');
  const { ensureBuiltinImage } = await import('../image/builtin.js');
  const store = new ImageStore();
  await ensureBuiltinImage(store);
  switch (name) {
    case 'images': {
      const { listImages } = await import('../image/list.js');
      const { shortDigest } = await import('../image/digest.js');
      const images = listImages(store);
      if (json) {
        write(`${JSON.stringify(images, null, 2)}\n`);
        return 0;
      }
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE']];
      for (const i of images) {
        const colon = i.ref.lastIndexOf(':');
        const [id, size] = 'error' in i ? ['<unreadable>', '-'] : [shortDigest(i.id), humanSize(i.size)];
        rows.push([i.ref.slice(0, colon), i.ref.slice(colon + 1), id, size]);
      }
      write(`${formatTable(rows)}\n`);
      // As docker lists what it can: the others are still listed, and the status is 0.
      for (const i of images) {
        if ('error' in i) warn(`tslab: ${i.ref} cannot be read: ${i.error} (tslab rmi ${i.ref} removes it)\n`);
      }
      return 0;
    }
    case 'rmi': {
      const args = parseDockerArgs(argv, [{ long: 'force', short: 'f', value: false }]);
      if (!args.positional.length) throw new UsageError('rmi needs an image: tslab rmi IMAGE...');
      const { removeImages } = await import('../engine/images.js');
      const deleted = removeImages(store, args.positional, args.flags.has('force'), (ref) => write(`Untagged: ${ref}\n`));
      for (const removed of deleted) write(`Deleted: ${removed}\n`);
      return 0;
    }
    case 'import': {
      const [file, ref] = argv;
      if (!file) throw new UsageError('import needs a file: tslab import FILE [NAME[:TAG]] (an OCI layout dir or tar, or a docker save tar)');
      const { importArchive } = await import('../image/import.js');
      for (const tagged of await importArchive(store, file, ref)) write(`Loaded image: ${tagged}\n`);
      return 0;
    }
    case 'pull': {
      if (!argv[0]) throw new UsageError('pull needs an image reference: tslab pull REGISTRY/REPO[:TAG]');
      const { pull } = await import('../image/pull.js');
      const { PullProgress } = await import('./progress-bars.js');
      const progress = new PullProgress(process.stderr);
      // Ctrl-C stops the downloads; what arrived stays as .partial files and the next pull resumes.
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort(new Error('interrupted: pull again to resume')));
      try {
        const result = await pull(argv[0], {
          store,
          signal: abort.signal,
          onProgress: (p) => progress.update(p),
          onMessage: (line) => progress.message(line),
        });
        write(`${result.name}\n`);
      } finally {
        progress.finish();
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}
