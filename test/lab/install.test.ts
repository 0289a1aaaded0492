// README's first command must install quietly and clearly: npm 11 warns about every dependency whose install
// scripts package.json's allowScripts does not name, and about the project's own `prepare` when `npm link`
// runs it again; the build says when it is done; README names what the machine needs first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO_ROOT } from './lab-env.js';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  engines?: { node?: string };
  allowScripts?: Record<string, boolean>;
  scripts?: Record<string, string>;
};
const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; version?: string }>;
};
const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

/** README's first shell block: its commands, comments left out. */
function firstCommands(): string {
  const block = /```sh\n([\s\S]*?)```/.exec(readme)![1];
  return block
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .join('\n');
}

describe('the install (README command 1)', () => {
  test('every locked package with install scripts is allowed by name in package.json (no allowScripts warning)', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([where, p]) => where && p.hasInstallScript)
      .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    // The lock file records no resolved URLs, so npm cannot verify a pinned version: names only.
    expect(withScripts.filter((name) => pkg.allowScripts?.[name] !== true)).toEqual([]);
  });

  test('npm link does not run the build again (it would warn about the project\'s prepare script), and the build says it is done', () => {
    const commands = firstCommands();
    expect(commands).toMatch(/npm ci && npm link --ignore-scripts && tslab start/);
    expect(pkg.scripts?.prepare).toMatch(/^node build\.mjs && echo '[^']*built[^']*'$/);
  });

  test('README names the prerequisites: Node.js >= 20 with npm (Debian 12 has 18), and root; package.json agrees', () => {
    expect(pkg.engines?.node).toBe('>=20');
    const before = readme.slice(0, readme.indexOf('```sh'));
    expect(before).toMatch(/Node\.js 20 or newer\s+with npm/);
    expect(before).toMatch(/Debian 12's own `nodejs` package is Node 18/);
    expect(before).toMatch(/root/);
  });
});
