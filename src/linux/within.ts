// A bounded wait that does not outlive itself. `Promise.race([p, sleep(ms)])` leaves its timer running after p
// settles, and a pending timer keeps Node from exiting: `tslab run` of a refused port took 11 s to exit, 10 of
// them waiting for a timer whose race was long over.

/** `promise`'s value, or undefined once `ms` have passed; the timer is cleared either way. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
