// Waits bounded by time or by an AbortSignal, that do not outlive themselves. `Promise.race([p, sleep(ms)])` leaves its timer running after p
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

/** Resolves like `promise`, or rejects with `reason()` as soon as `signal` aborts; no listener is left behind. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, reason: () => Error): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
