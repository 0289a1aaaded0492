// Each lesson's checks, by lesson id.
import { check as lesson00 } from './l00-preflight.js';
import { check as lesson01 } from './l01-process.js';
import type { LessonCheck } from './types.js';

export const CHECKS: Record<string, LessonCheck> = {
  '00-preflight': lesson00,
  '01-process': lesson01,
};
