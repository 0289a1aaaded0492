// The capstone's guess at the lesson piece behind failing lifecycle tests. Each failure is weighed: a piece's
// own syscalls or names in the failure message (the runtime's stderr is quoted there) count 3, the subject
// of the test (its file and name) counts 1. The piece with the most weight is named, with the evidence.
import type { LessonInfo } from '../catalog.js';

export interface Failure {
  /** "test/lifecycle/hooks.test.ts: hooks > poststart runs" */
  test: string;
  /** What the failure said (assertion, runtime stderr); may be empty. */
  message: string;
}

interface Evidence {
  /** The piece's file (lessons.json gives its lesson). */
  piece: string;
  /** Words in a failure message that only this piece's work produces. */
  message: RegExp;
  /** Subjects of tests this piece's work decides. */
  subject: RegExp;
}

// mount-namespace.ts only builds the lesson container; preflight.ts only answers the preflight: the runtime uses neither.
const EVIDENCE: Evidence[] = [
  { piece: 'exit-status.ts', message: /exitStatus/, subject: /exit status|exits? with|killed by|\bsignal/i },
  { piece: 'hostname.ts', message: /sethostname|setHostname/, subject: /hostname|\buts\b/i },
  { piece: 'pid-namespace.ts', message: /CLONE_NEWPID|setns|spawnInNewPidNamespace|pid_for_children/, subject: /hooks?\b|poststop|pid namespace|pid 1\b|terminal|console/i },
  { piece: 'pivot-root.ts', message: /pivot_root|umount2|pivotInto|fchdir/, subject: /pivot|rootfs|\broot\b|chroot|readonly/i },
  { piece: 'loopback.ts', message: /SIOC[GS]IFFLAGS|bringUpInterface/, subject: /loopback|\blo\b|network/i },
  { piece: 'cgroup-join.ts', message: /cgroup\.procs|joinCgroup/, subject: /cgroup|memory|pids|cpu|oom/i },
  { piece: 'capabilities.ts', message: /PR_CAPBSET|PR_SET_NO_NEW_PRIVS|prctl|dropBoundingSet|setNoNewPrivs/, subject: /capabilit|bounding|no.?new.?priv|CapBnd|CapEff/i },
  { piece: 'exec-fifo.ts', message: /exec\.fifo|releaseInit|cannot start a container/, subject: /\bstart\b|created|fifo/i },
];

/** "lesson 3's spawnInNewPidNamespace() in sandbox/steps/pid-namespace.ts" */
export function pieceName(lesson: LessonInfo): string {
  return `lesson ${lesson.number}'s ${lesson.piece!.functions.map((f) => `${f}()`).join(' / ')} in sandbox/steps/${lesson.piece!.file}`;
}

/** The lesson whose piece the failures most likely come from, and why; undefined when nothing points anywhere. */
export function likelyPiece(failures: Failure[], catalog: LessonInfo[]): { lesson: LessonInfo; why: string } | undefined {
  const weight = new Map<number, number>();
  const examples = new Map<number, string[]>();
  const lessonOf = new Map(catalog.flatMap((l) => (l.piece ? [[l.piece.file, l.number] as const] : [])));
  for (const failure of failures) {
    // A piece still to write names itself: "... is not written yet (lesson N)".
    const unwritten = /is not written yet \(lesson (\d+)\)/.exec(failure.message);
    const hits = unwritten
      ? [{ lesson: Number(unwritten[1]), points: 10 }]
      : EVIDENCE.flatMap((e) => {
          const points = (e.message.test(failure.message) ? 3 : 0) + (e.subject.test(failure.test) ? 1 : 0);
          const lesson = lessonOf.get(e.piece);
          return points && lesson !== undefined ? [{ lesson, points }] : [];
        });
    for (const { lesson, points } of hits) {
      weight.set(lesson, (weight.get(lesson) ?? 0) + points);
      examples.set(lesson, [...(examples.get(lesson) ?? []), failure.test]);
    }
  }
  const ranked = [...weight.entries()].sort((a, b) => b[1] - a[1]);
  const top = ranked[0];
  const lesson = top && catalog.find((l) => l.number === top[0] && l.piece);
  if (!lesson) return undefined;
  const shown = examples.get(lesson.number)!;
  const runnerUp = ranked[1] ? catalog.find((l) => l.number === ranked[1][0]) : undefined;
  return {
    lesson,
    why:
      `${shown.length} of ${failures.length} failure${failures.length === 1 ? '' : 's'} point to it (${shown.slice(0, 3).join('; ')}${shown.length > 3 ? '; ...' : ''})` +
      (runnerUp?.piece ? `; next most likely: ${pieceName(runnerUp)}` : ''),
  };
}
