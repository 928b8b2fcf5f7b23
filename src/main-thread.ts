// Every API that forks refuses off the main thread, the same way: a fork() from a worker thread
// would copy only that thread into the child, without Node's main loop.
import { argError } from './args';
import { native } from './native';

/** Throws ERR_FORK_IN_WORKER unless called on Node's main thread. */
export function requireMainThread(api: string): void {
  if (native.onMainThread) return;
  throw argError(
    Error,
    'ERR_FORK_IN_WORKER',
    `${api} is only supported on the main thread: a worker thread cannot fork`,
  );
}
