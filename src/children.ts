// The children this library forked, and the final statuses of the ones already reaped, so a
// status is never lost whoever reaps the child: waitpid(), reapChildren(), a Reaper, Process.
import { native } from './native';
import { WaitStatus, isFinal } from './status';

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
const unclaimed = new Map<number, WaitStatus>();
let ownerGeneration = native.forkGeneration();

function own(): void {
  const generation = native.forkGeneration();
  if (generation === ownerGeneration) return;
  ownerGeneration = generation;
  running.clear();
  unclaimed.clear();
}

/** Called in the parent right after fork(). */
export function trackChild(pid: number): void {
  own();
  running.add(pid);
  unclaimed.delete(pid); // a status left over from an earlier child with the same pid
}

/** True while `pid` is a child this library forked and nobody has reaped yet. */
export function isOwnChild(pid: number): boolean {
  own();
  return running.has(pid);
}

/** Pids of this library's children that have not been reaped yet. */
export function ownChildren(): number[] {
  own();
  return [...running];
}

/** Every reaping path reports here; a final status of an own child is passed on once. */
export function recordStatus(status: WaitStatus): void {
  if (!isFinal(status)) return;
  own();
  if (!running.delete(status.pid)) {
    notifyAll(foreignSubscribers, status);
    return;
  }
  unclaimed.set(status.pid, status);
  if (unclaimed.size > UNCLAIMED_STATUS_LIMIT) {
    unclaimed.delete(unclaimed.keys().next().value as number);
  }
  notifyAll(subscribers, status);
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
  own();
  const status = unclaimed.get(pid);
  unclaimed.delete(pid);
  return status;
}

/** Drops `pid` from the running set without a status (it was reaped outside this library). */
export function untrackChild(pid: number): boolean {
  own();
  return running.delete(pid);
}
