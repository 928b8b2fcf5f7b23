// The children this library forked, and the final statuses of the ones already reaped, so a
// status is never lost whoever reaps the child: waitpid(), reapChildren(), a Reaper, Process.
import { WaitStatus, isFinal } from './status';

const running = new Set<number>();
const subscribers = new Set<(status: WaitStatus) => void>();

/** Called in the parent right after fork(). */
export function trackChild(pid: number): void {
  running.add(pid);
}

/** True while `pid` is a child this library forked and nobody has reaped yet. */
export function isOwnChild(pid: number): boolean {
  return running.has(pid);
}

/** Pids of this library's children that have not been reaped yet. */
export function ownChildren(): number[] {
  return [...running];
}

/** Every reaping path reports here; a final status of an own child is passed on once. */
export function recordStatus(status: WaitStatus): void {
  if (!isFinal(status) || !running.delete(status.pid)) return;
  for (const subscriber of [...subscribers]) subscriber(status);
}

/** Subscribes to final statuses of own children; returns the unsubscribe function. */
export function onChildReaped(subscriber: (status: WaitStatus) => void): () => void {
  subscribers.add(subscriber);
  return () => {
    subscribers.delete(subscriber);
  };
}

/** In a fork child: the parent's children are not ours. */
export function forgetAllChildren(): void {
  running.clear();
}
