// Every lesson's mutants, in course order.
import { lesson00 } from './l00-preflight.js';
import { lesson01 } from './l01-process.js';
import { lesson02 } from './l02-uts.js';
import { lesson03 } from './l03-pid.js';
import { lesson04 } from './l04-mount.js';
import { lesson05 } from './l05-rootfs.js';
import { lesson06 } from './l06-network.js';
import { lesson07 } from './l07-cgroups.js';
import { lesson08 } from './l08-capabilities.js';
import { lesson09 } from './l09-oci-lifecycle.js';
import { lesson10 } from './l10-capstone.js';
import { lesson11 } from './l11-seccomp.js';
import { lesson12 } from './l12-userns.js';
import { lesson13 } from './l13-images.js';
import { lesson14 } from './l14-exec.js';
import type { LessonMutants } from './mutant.js';

export const MUTANTS: LessonMutants[] = [lesson00, lesson01, lesson02, lesson03, lesson04, lesson05, lesson06, lesson07, lesson08, lesson09, lesson10, lesson11, lesson12, lesson13, lesson14];
