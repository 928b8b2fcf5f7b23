// The module state of Process in this process: the started children not yet reaped (Python's
// `_children`), the result pipe they all write to, and the SIGCHLD watch that wakes pending
// joins. A fork child drops all of it (forgetParentState): those children are its parent's.
import { onFork } from '../child-runtime';
import { onChildReaped } from '../children';
import { fork } from '../fork';
import { native } from '../native';
import { removeSignalHandlers, signalHandlersInstalled } from './lifecycle';
import { ResultPipe } from './result-pipe';
import type { ProcessState } from './state';
import type { ResultRecord } from './wire';

/** Started, not yet reaped: Python's `_children`. */
export const children = new Set<ProcessState>();
const byPid = new Map<number, ProcessState>();
/** Children with a pending join(): SIGCHLD polls them. */
export const waiting = new Set<ProcessState>();
/** This process's pipe for its children's results, made at the first start(). */
export let resultPipe: ResultPipe | null = null;
/** In a fork child: the parent's children with join timers, until the child's loop runs again. */
export let inheritedStates: ProcessState[] = [];
/** Set during start()'s fork(): the child is a Process child. */
let starting = false;
let sigchldWatched = false;

onChildReaped((status) => byPid.get(status.pid)?.settle(status));
onFork(() => {
  if (!inheritsParentState()) return undefined;
  forgetParentState(true);
  return forgetParentState;
});

/** The result pipe, made at the first call. */
export function openResultPipe(): ResultPipe {
  return (resultPipe ??= new ResultPipe(deliverRecord));
}

function deliverRecord(pid: number, record: ResultRecord): void {
  byPid.get(pid)?.receive(record);
}

/** fork() for start(): the child it makes is a Process child, which skips part of the reset. */
export function forkForStart(): number {
  starting = true;
  try {
    return fork();
  } finally {
    starting = false;
  }
}

/** A started child, from now on in `children` until it is reaped. */
export function track(state: ProcessState, pid: number): void {
  children.add(state);
  byPid.set(pid, state);
}

/** A reaped child: nothing more comes for it. */
export function untrack(state: ProcessState): void {
  if (state.pid !== null) {
    resultPipe?.forget(state.pid);
    byPid.delete(state.pid);
  }
  children.delete(state);
  waiting.delete(state);
}

export function watchSigchld(): void {
  if (sigchldWatched) return;
  sigchldWatched = true;
  process.on('SIGCHLD', onSigchld);
}

function onSigchld(): void {
  for (const state of [...waiting]) state.poll();
}

/**
 * Python's `_cleanup()`: reaps every finished child (run by start() and activeChildren()).
 * One waitid() first: while no child has ended, there is nothing to poll one by one.
 */
export function cleanup(): void {
  if (children.size === 0 || !native.childExited()) return;
  for (const state of [...children]) state.poll();
}

// Runs in every fork child (a Process child or a plain fork()), inside fork(): the parent's
// children, result pipe, timers and signal handlers are not this process's. fork() already
// stopped the child from reading the parent's result pipe (natively). Join timers left by
// pending joins must go before the child's event loop runs again; a Process child with a
// synchronous run() never returns to the loop, so it skips that work. Everything a child
// touches costs it a copy-on-write page fault: empty collections are left alone.
function inheritsParentState(): boolean {
  return (
    children.size > 0 ||
    resultPipe !== null ||
    signalHandlersInstalled ||
    inheritedStates.length > 0
  );
}

/** `inParent`: called by the onFork hook before the fork, so that it is compiled there. */
function forgetParentState(inParent = false): void {
  if (inParent) return;
  // The pipe's descriptors stay open here (close-on-exec): closing them would cost every child
  // a code path its parent never ran, and a Process child writes its record to the write end.
  resultPipe = null;
  if (children.size > 0) {
    // (A grandchild of a synchronous run() also inherits what its parent had not released yet.)
    for (const state of children) inheritedStates.push(state);
    children.clear();
    byPid.clear();
  }
  if (waiting.size > 0) waiting.clear();
  // The SIGCHLD listener stays: it only polls `waiting`, now empty, and its watcher is unref'd.
  // Closing a signal watcher inherited across fork can spin the child's loop forever (libuv
  // waits for signals the parent had caught but not dispatched; they are not in the child).
  if (signalHandlersInstalled) removeSignalHandlers(); // terminate() must find SIGTERM's default
  if (starting) return; // a Process child runs run() now and never returns to the loop
  if (inheritedStates.length > 0) releaseInheritedStates();
}

/** Drops the timers of the parent's children (they belong to the parent). */
export function releaseInheritedStates(): void {
  const states = inheritedStates;
  inheritedStates = [];
  for (const state of states) state.abandon();
}
