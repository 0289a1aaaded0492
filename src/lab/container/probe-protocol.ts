// What container/probe.ts and lab/probe-calls.ts agree on, in a module of its own: the probe's bundle stays
// free of the lab's code (and of node:child_process).

/** Starts each reply line of `probe.cjs --each`: what the learner's step prints itself is not taken for one. */
export const REPLY_MARK = 'tslab-probe-reply ';
