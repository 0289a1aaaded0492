// Everything a `tslab run` container needs before the runtime is called: the image (the built-in busybox
// one is made on first use, offline), its layers unpacked once, an overlay root, a network address,
// /etc files, config.json and the record.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureBuiltinImage } from '../image/builtin.js';
import { layerDirs, loadImage } from '../image/image.js';
import { ImageStore } from '../image/store.js';
import { writeEtcFiles } from '../net/etc-files.js';
import { parsePortMapping } from '../net/port-proxy.js';
import { formatSpec } from '../runtime/spec/default-spec.js';
import { disconnectNetwork, planNetwork } from './network.js';
import { containerDir } from './engine-paths.js';
import { checkContainerName, nameTaken, newContainerId, saveRecord, type ContainerRecord } from './record.js';
import { fileStep } from './file-step.js';
import { containerSpec, RunOptionError, type RunOptions } from './spec.js';
import { mountRootfs, removeContainerFiles } from './storage.js';

export async function prepareContainer(options: RunOptions, runtime: string): Promise<ContainerRecord> {
  const store = new ImageStore();
  await ensureBuiltinImage(store);
  const image = loadImage(store, options.image);
  const id = newContainerId();
  const name = options.name ?? `tslab_${id.slice(0, 8)}`;
  checkContainerName(name);
  if (nameTaken(name)) throw new RunOptionError(`the container name "${name}" is already in use: remove that container (tslab rm ${name}) or pick another name`);
  if (options.tty && options.detach) throw new RunOptionError('-t with -d is not supported: a detached container has no terminal to relay to');
  if (options.publish.length && options.network !== 'bridge') throw new RunOptionError(`-p needs --network bridge (it is ${options.network})`);
  const ports = options.publish.map(parsePortMapping);
  const dir = containerDir(id);
  fileStep("creating the container's bundle directory", path.join(dir, 'bundle'), () => fs.mkdirSync(path.join(dir, 'bundle'), { recursive: true }));
  const record: ContainerRecord = {
    id,
    name,
    image: options.image,
    imageDigest: image.manifestDigest,
    command: [],
    created: new Date().toISOString(),
    status: 'created',
    autoRemove: options.autoRemove,
    detached: options.detach,
    tty: options.tty,
    runtime,
    stopSignal: image.config.config?.StopSignal ?? 'SIGTERM',
    network: { mode: options.network },
    ports,
    proxies: [],
    bundle: path.join(dir, 'bundle'),
    rootfs: path.join(dir, 'rootfs'),
    logFile: path.join(dir, 'container.log'),
  };
  saveRecord(record);
  try {
    mountRootfs(id, await layerDirs(store, image));
    const hostname = options.hostname ?? id.slice(0, 12);
    record.network = planNetwork(id, options.network);
    saveRecord(record);
    writeEtcFiles(record.rootfs, { hostname, address: record.network.address });
    const spec = containerSpec({ options, image: image.config.config ?? {}, rootfs: record.rootfs, hostname });
    record.command = spec.process!.args;
    const config = path.join(record.bundle, 'config.json');
    fileStep("writing the container's config", config, () => fs.writeFileSync(config, formatSpec(spec)));
    saveRecord(record);
    return record;
  } catch (err) {
    disconnectNetwork(record);
    removeContainerFiles(record);
    throw err;
  }
}
