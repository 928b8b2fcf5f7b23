// The children this library forked, and the final statuses of the ones already reaped, so a
// status is never lost whoever reaps the child: waitpid(), reapChildren(), a Reaper, Process.
import { native } from './native';
import { WaitStatus, decodeWaitStatus } from './status';

// A fork child inherits these, but the parent's children are not its own. Rather than clear
// them in every child (work each child would pay for), they are cleared when a process first
// uses them and finds that they were filled by another process (a lower fork generation).
const running = new Set<number>();
const subscribers = new Set<(status: WaitStatus) => void>();
const foreignSubscribers = new Set<(status: WaitStatus) => void>();

/** How many final statuses nobody claimed are kept; the oldest go first. */
export const UNCLAIMED_STATUS_LIMIT = 4096;
// Final statuses of own children, kept until claimStatus() takes them (waitFor() called after
// someone else reaped the child). A Map iterates in insertion order: the first key is oldest.
// It keeps the raw status word: a small integer, where an object would be one more thing for
// the garbage collector to track between forks.
const unclaimed = new Map<number, number>();
let ownerGeneration = native.forkGeneration();

// Clears the sets when this process inherited them from its parent (see above). Written out
// in trackChild() and recordStatus(), which run between two forks of a fork/wait loop: each
// function called there costs the parent a page fault.
function forgetIfInherited(): void {
  if (native.forkGeneration() !== ownerGeneration) forgetInheritedChildren();
}

function forgetInheritedChildren(): void {
  ownerGeneration = native.forkGeneration();
  running.clear();
  unclaimed.clear();
}

/** Called in the parent right after fork(). */
export function trackChild(pid: number): void {
  if (native.forkGeneration() !== ownerGeneration) forgetInheritedChildren();
  running.add(pid);
  unclaimed.delete(pid); // a status left over from an earlier child with the same pid
}

/** True while `pid` is a child this library forked and nobody has reaped yet. */
export function isOwnChild(pid: number): boolean {
  forgetIfInherited();
  return running.has(pid);
}

/** Pids of this library's children that have not been reaped yet. */
export function ownChildren(): number[] {
  forgetIfInherited();
  return [...running];
}

/** Every reaping path reports here; a final status of an own child is passed on once. */
export function recordStatus(status: WaitStatus): void {
  if (status.exitCode === null && status.signalNumber === null) return; // stopped or continued
  if (native.forkGeneration() !== ownerGeneration) forgetInheritedChildren();
  if (!running.delete(status.pid)) {
    if (foreignSubscribers.size !== 0) notifyAll(foreignSubscribers, status);
    return;
  }
  unclaimed.set(status.pid, status.status);
  if (unclaimed.size > UNCLAIMED_STATUS_LIMIT) {
    unclaimed.delete(unclaimed.keys().next().value as number);
  }
  // Only when someone listens: each function run between two forks costs a page fault.
  if (subscribers.size !== 0) notifyAll(subscribers, status);
}

// Every subscriber gets the status even when one throws; the first error is rethrown after.
function notifyAll(list: Set<(status: WaitStatus) => void>, status: WaitStatus): void {
  let failure: { error: unknown } | null = null;
  for (const subscriber of [...list]) {
    try {
      subscriber(status);
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/** Subscribes to final statuses of own children; returns the unsubscribe function. */
export function onChildReaped(subscriber: (status: WaitStatus) => void): () => void {
  subscribers.add(subscriber);
  return () => {
    subscribers.delete(subscriber);
  };
}

/**
 * Subscribes to final statuses of children this library did not fork (a `waitpid(-1)` loop
 * reaping an adopted orphan or a child_process child); returns the unsubscribe function.
 */
export function onForeignChildReaped(subscriber: (status: WaitStatus) => void): () => void {
  foreignSubscribers.add(subscriber);
  return () => {
    foreignSubscribers.delete(subscriber);
  };
}

/** Takes the kept final status of own child `pid`, if it was reaped and not claimed yet. */
export function claimStatus(pid: number): WaitStatus | undefined {
  forgetIfInherited();
  const status = unclaimed.get(pid);
  if (status === undefined) return undefined;
  unclaimed.delete(pid);
  return decodeWaitStatus(pid, status);
}

/** Drops `pid` from the running set without a status (it was reaped outside this library). */
export function untrackChild(pid: number): boolean {
  forgetIfInherited();
  return running.delete(pid);
}
