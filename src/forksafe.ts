// The fork-safe mode: Node started with --single-threaded, so V8 posts no background work
// (GC, compilation) whose worker threads a fork child would not have.
import { isMainThread } from 'worker_threads';
import { native } from './native';

/**
 * The node flags of the fork-safe mode. Node 18 (V8 10.2) hands garbage-collection jobs to
 * V8's worker threads even with --single-threaded; a fork child, which lacks them, can block
 * on their task queue at its first collections. With a single worker thread it cannot
 * (measured: 15 of 40 stress children clean without it, 400 of 400 with it).
 */
export const FORK_SAFE_FLAGS: readonly string[] = Object.freeze(
  Number(process.versions.node.split('.')[0]) < 20
    ? ['--single-threaded', '--v8-pool-size=1']
    : ['--single-threaded'],
);

// execArgv never changes; reading it in a fork child costs page faults on every fork.
const startedForkSafe = FORK_SAFE_FLAGS.every((flag) => process.execArgv.includes(flag));

/** True when this process was started in the fork-safe mode (node --single-threaded). */
export function isForkSafe(): boolean {
  return startedForkSafe;
}

/**
 * Re-executes the current program (same pid, same arguments, same environment) under
 * `node --single-threaded` unless it already runs that way. Call it first, before the
 * program does any work: everything before it runs twice.
 */
export function ensureForkSafe(): void {
  if (isForkSafe()) return;
  if (!isMainThread) throw new Error('ensureForkSafe() must be called on the main thread');
  const argv = [process.execPath, ...FORK_SAFE_FLAGS, ...process.execArgv, ...process.argv.slice(1)];
  const env = Object.entries(process.env).map(([name, value]) => `${name}=${value ?? ''}`);
  native.execve(process.execPath, argv, env);
}
