// The tslab checkout this code runs from (the directory holding package.json, dist/ and bin/).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    if (path.dirname(dir) === dir) throw new Error(`cannot find the tslab checkout around ${import.meta.url}`);
    dir = path.dirname(dir);
  }
  return dir;
}
