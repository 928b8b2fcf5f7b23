// The fork-safe mode: Node started with --single-threaded, so V8 posts no background work
// (GC, compilation) whose worker threads a fork child would not have.
import { isMainThread } from 'worker_threads';
import { native } from './native';

/** The node flags of the fork-safe mode. */
export const FORK_SAFE_FLAGS: readonly string[] = Object.freeze(['--single-threaded']);

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
