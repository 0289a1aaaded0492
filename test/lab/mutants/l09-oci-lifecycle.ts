// Lesson 9: releaseInit. The lesson: open the FIFO O_RDONLY | O_NONBLOCK (a blocking open hangs on a dead init),
// read until the byte comes, throw when initAlive() turns false, close and unlink the FIFO.
import type { LessonMutants } from './mutant.js';

export const lesson09: LessonMutants = {
  lesson: '09-oci-lifecycle',
  mutants: [
    {
      name: 'the FIFO never unlinked',
      edits: [['  unlink(fifo);\n', '']],
      caught: /exec\.fifo still there[\s\S]*releaseInit must unlink\(fifo\)/,
    },
    {
      name: 'a blocking open (no O_NONBLOCK)',
      edits: [['open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)', 'open(fifo, O_RDONLY | O_CLOEXEC)']],
      caught: /from the check: thread \d+ blocked in open\(\) of the FIFO[\s\S]*start hung: open the FIFO O_RDONLY\|O_NONBLOCK/,
    },
    {
      name: 'initAlive() never asked',
      edits: [
        [
          "      if (!initAlive()) {\n        // Since the read above, the init may have written its byte, exec'd and already exited (/bin/true): read once more.\n        if (readSome(fd, byte, fifo) === 1) break;\n        throw new Error('cannot start a container that has stopped');\n      }\n",
          '',
        ],
      ],
      caught: /whose init dies while start waits[\s\S]*still waiting[\s\S]*check initAlive\(\)/,
    },
    {
      name: 'the byte never read (open, close, unlink)',
      edits: [['    while (readSome(fd, byte, fifo) !== 1) {', '    while (byte.length === 0 && readSome(fd, byte, fifo) !== 1) {']],
      caught: /whose init dies while start waits[\s\S]*never wrote its byte[\s\S]*read until one byte comes/,
    },
  ],
};
