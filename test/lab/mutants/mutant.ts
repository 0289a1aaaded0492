// A mutant: the reference piece of a lesson with one typical learner's mistake in it, written as text
// replacements of the reference source (src/runtime/steps/<file>), so that a mutant follows the reference as
// it changes and stops applying (loudly) when its anchor text is gone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../helpers/runtime.js';

export interface Mutant {
  /** The mistake, as a learner makes it. */
  name: string;
  /** The piece file it changes (sandbox/steps/<file>); the lesson's own piece unless said. */
  file?: string;
  /** Replacements in the reference source: each `from` must occur exactly once. */
  edits: Array<[from: string, to: string]>;
  /** What the failure a learner reads (enable error, or the failing checks' saw/expected/hint) must say. */
  caught: RegExp;
  /** Capstone only: the lifecycle suite files (and vitest arguments) its run takes (TSLAB_CAPSTONE_FILES). */
  capstoneFiles?: string;
}

export interface LessonMutants {
  lesson: string;
  /** The lesson container does not depend on the piece: start it once and run every mutant's check in it. */
  shareContainer?: boolean;
  mutants: Mutant[];
}

export function referenceSource(file: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, 'src', 'runtime', 'steps', file), 'utf8');
}

/** The reference piece as the sandbox holds it: the syscall layer is ../syscalls.js there. */
export function asSandboxPiece(source: string): string {
  return source.replace(/(['"])\.\.\/\.\.\/linux\/index\.js\1/g, "'../syscalls.js'");
}

/** The mutant's version of its piece (sandbox form); throws when an edit no longer applies. */
export function mutate(mutant: Mutant, file: string): string {
  let source = referenceSource(file);
  for (const [from, to] of mutant.edits) {
    const count = source.split(from).length - 1;
    if (count !== 1) throw new Error(`mutant "${mutant.name}": "${from}" occurs ${count} times in src/runtime/steps/${file} (expected once): update the mutant`);
    source = source.replace(from, () => to);
  }
  return asSandboxPiece(source);
}
