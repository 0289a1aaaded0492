// Each lesson's checks, by lesson id.
import { check as lesson00 } from './l00-preflight.js';
import { check as lesson01 } from './l01-process.js';
import { check as lesson02 } from './l02-uts.js';
import { check as lesson03 } from './l03-pid.js';
import { check as lesson04 } from './l04-mount.js';
import { check as lesson05 } from './l05-rootfs.js';
import { check as lesson06 } from './l06-network.js';
import { check as lesson07 } from './l07-cgroups.js';
import { check as lesson08 } from './l08-capabilities.js';
import { check as lesson09 } from './l09-oci-lifecycle.js';
import { check as lesson10 } from './l10-capstone.js';
import type { LessonCheck } from './types.js';

export const CHECKS: Record<string, LessonCheck> = {
  '00-preflight': lesson00,
  '01-process': lesson01,
  '02-uts': lesson02,
  '03-pid': lesson03,
  '04-mount': lesson04,
  '05-rootfs': lesson05,
  '06-network': lesson06,
  '07-cgroups': lesson07,
  '08-capabilities': lesson08,
  '09-oci-lifecycle': lesson09,
  '10-capstone': lesson10,
};
