// A module that only some paths of this library use is loaded on first use, never at load:
// every module a process loads grows its heap, and every fork() copies the page tables of
// that heap, so what a parent loads without need makes each of its forks slower.

/** A function that loads `load()`'s module on its first call and returns it on every call. */
export function lazy<T>(load: () => T): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= load());
}
