// Node modules that only some paths of this library use, loaded on first use: each module a
// process loads grows its heap, and every fork() copies the page tables of that heap (with
// worker_threads, also no longer loaded, they made a process 1.5 MB bigger: 8.8 vs 7.4 MB).

/** A function that loads `load()`'s module on its first call and returns it on every call. */
export function lazy<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
