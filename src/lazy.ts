// Node modules that only some paths of this library use, loaded on first use: each module a
// process loads grows its heap, and every fork() copies the page tables of that heap (loading
// v8, net, tty and child_process up front made each fork of a small program ~0.05 ms slower).

/** A function that loads `load()`'s module on its first call and returns it on every call. */
export function lazy<T>(load: () => T): () => T {
  let module: T | undefined;
  return () => (module ??= load());
}
