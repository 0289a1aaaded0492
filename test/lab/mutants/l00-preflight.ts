// Lesson 0: filesystemSupported. The lesson warns about includes() ('ext', 'nodev') and the first column.
import type { LessonMutants } from './mutant.js';

export const lesson00: LessonMutants = {
  lesson: '00-preflight',
  mutants: [
    {
      name: 'text.includes(name) on the whole of /proc/filesystems',
      edits: [['return types.includes(name);', "return readFileSync('/proc/filesystems', 'utf8').includes(name);"]],
      caught: /'ext' -> true \(the kernel says false\).*'nodev' -> true[\s\S]*'ext' is not 'ext4'/,
    },
    {
      name: 'the first column (split on tab, [0]) instead of the last',
      edits: [[".map((line) => line.split('\\t').pop()!.trim());", ".map((line) => line.split('\\t')[0].trim());"]],
      caught: /'proc' -> false \(the kernel says true\)[\s\S]*'nodev' -> true[\s\S]*'nodev' is the first column/,
    },
    {
      name: 'a line that ends with the name (endsWith) counts',
      edits: [['return types.includes(name);', 'return types.some((type) => type.endsWith(name));']],
      caught: /'fs' -> true \(the kernel says false\)[\s\S]*'fs' is not 'sysfs'/,
    },
  ],
};
