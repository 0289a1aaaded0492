// How far uids and gids go.

/**
 * The largest uid or gid, as runc accepts them (libcontainer/user: "uids and gids must be in range
 * 0-2147483647"). The kernel's ids are 32 bits, but a larger number wraps: 4294967295 is -1 to
 * setresuid(2) and chown(2), "leave unchanged", so a process would stay root.
 */
export const MAX_ID = 2147483647;
