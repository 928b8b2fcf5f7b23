// Warm-ups. A fork child compiles every function it runs that its parent never ran, and each
// write of that work is a copy-on-write page fault. So a parent that forks children to run a
// known path runs that path itself first, where each step returns at once: a warm-up.

/** Once a second is enough to keep V8 from flushing the code (it waits for several GCs). */
const WARM_UP_EVERY_MS = 1000;

/**
 * `warmUp`, made to run at most once a second (call it before every fork); `first` is true at
 * its first run in this process.
 */
export function throttledWarmUp(warmUp: (first: boolean) => void): () => void {
  let last = -Infinity;
  return () => {
    const now = Date.now();
    if (now - last < WARM_UP_EVERY_MS) return;
    const first = last === -Infinity;
    last = now;
    warmUp(first);
  };
}
