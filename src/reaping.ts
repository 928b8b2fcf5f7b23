// How children get reaped: the WNOHANG sweeps (each child by pid, or the classic
// waitpid(-1, WNOHANG) loop), the pending waitFor() promises, and the SIGCHLD watch that
// drives both. The public face (Reaper, reapChildren, waitFor) is src/reaper.ts.
//
// Every status goes through reportWait() (src/posix.ts) to children.ts, and every Reaper and
// waitFor() listens there, so a status is never lost whichever path reaped the child.
import { checkArity } from './args';
import { onFork } from './child-runtime';
import {
  claimStatus,
  isOwnChild,
  onChildReaped,
  onForeignChildReaped,
  ownChildren,
  untrackChild,
} from './children';
import { WaitRecord, native } from './native';
import { reportWait } from './posix';
import type { ReapScope } from './reaper-options';
import { WaitStatus } from './status';

const WNOHANG: number = native.constants.WNOHANG;

/** Marks "no such child" from waitpid (ECHILD), with the error to pass on. */
interface NoChild {
  noChild: NodeJS.ErrnoException;
}

// A subscriber's exception surfaces after the sweep instead of stopping it: the remaining
// zombies still get reaped.
function reapPid(pid: number): WaitStatus | null | NoChild {
  let record: WaitRecord | null;
  try {
    record = native.waitpid(pid, WNOHANG);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ECHILD') {
      return { noChild: error as NodeJS.ErrnoException };
    }
    throw error;
  }
  return record === null ? null : reportWait(record, true);
}

let warnedLostChild = false;

// An own child that waitpid says does not exist was reaped by someone who did not report it
// (a second copy of this library, SIGCHLD set to SIG_IGN, libuv): its status is gone.
function loseChild(pid: number, error: NodeJS.ErrnoException): void {
  untrackChild(pid);
  rejectWaiters(pid, error);
  if (warnedLostChild) return;
  warnedLostChild = true;
  process.emitWarning(`child ${pid} was reaped outside posix-fork; its exit status is lost`, {
    code: 'POSIX_FORK_STATUS_LOST',
  });
}

/** One WNOHANG pass over this library's children, each by pid. */
function reapOwn(): WaitStatus[] {
  const reaped: WaitStatus[] = [];
  for (const pid of ownChildren()) {
    if (!isOwnChild(pid)) continue; // reaped meanwhile, e.g. by an 'exit' listener
    const result = reapPid(pid);
    if (result === null) continue;
    if ('noChild' in result) {
      if (isOwnChild(pid)) loseChild(pid, result.noChild);
      continue;
    }
    reaped.push(result);
  }
  return reaped;
}

let warnedStealing = false;

// waitpid(-1) takes child_process children away from libuv; say so once. (A fork child's
// inherited ChildProcess handles are unref'd by fork(), so they are not counted here.)
function warnIfChildProcessesExist(): void {
  if (warnedStealing) return;
  if (!process.getActiveResourcesInfo().includes('ProcessWrap')) return;
  warnedStealing = true;
  process.emitWarning(
    "a scope 'all' reaper (waitpid(-1)) runs while child_process children exist: those it " +
      "reaps never emit 'exit' and keep the event loop alive",
    {
      code: 'POSIX_FORK_REAP_ALL',
      detail: "Use the default scope 'own' next to child_process.",
    },
  );
}

/** The classic loop: waitpid(-1, WNOHANG) until no child is left to reap. */
function reapAll(): WaitStatus[] {
  warnIfChildProcessesExist();
  const reaped: WaitStatus[] = [];
  for (;;) {
    const result = reapPid(-1);
    if (result === null || 'noChild' in result) return reaped;
    reaped.push(result);
  }
}

/** One non-blocking sweep of the children in `scope`; the statuses it reaped. */
export function sweep(scope: ReapScope): WaitStatus[] {
  return scope === 'all' ? reapAll() : reapOwn();
}

// ---------------------------------------------------------------------------------------
// waitFor(): promises per pid, settled from children.ts whoever reaped.

interface Waiter {
  resolve(status: WaitStatus): void;
  reject(error: Error): void;
}
const waiters = new Map<number, Waiter[]>();

function settleWaiters(status: WaitStatus): void {
  const list = waiters.get(status.pid);
  if (list === undefined) return;
  waiters.delete(status.pid);
  claimStatus(status.pid);
  for (const waiter of list) waiter.resolve(status);
  refreshWatch();
}

function rejectWaiters(pid: number, error: Error): void {
  const list = waiters.get(pid);
  if (list === undefined) return;
  waiters.delete(pid);
  for (const waiter of list) waiter.reject(error);
  refreshWatch();
}

function reapWaited(pid: number): void {
  const result = reapPid(pid);
  if (result === null || !('noChild' in result)) return; // a status settles via children.ts
  if (isOwnChild(pid)) loseChild(pid, result.noChild);
  else rejectWaiters(pid, result.noChild); // not (or no longer) a child of this process
}

onChildReaped(settleWaiters);
onForeignChildReaped(settleWaiters);

/** The final status of `pid` (checked by the caller), from the kept statuses or once it ends. */
export function waitForChild(pid: number): Promise<WaitStatus> {
  const kept = claimStatus(pid);
  if (kept !== undefined) return Promise.resolve(kept);
  return new Promise<WaitStatus>((resolve, reject) => {
    const list = waiters.get(pid);
    if (list !== undefined) {
      list.push({ resolve, reject });
      return;
    }
    waiters.set(pid, [{ resolve, reject }]);
    refreshWatch(); // watching before the first look: an exit in between is not missed
    // The first look waits for the end of this tick, so every waitFor(pid) made in it shares
    // the status even when the child has already ended (it is reaped once, by that look).
    queueMicrotask(() => reapIfWaited(pid));
  });
}

// A waitFor(pid) may have settled meanwhile (another path reaped the child).
function reapIfWaited(pid: number): void {
  if (waiters.has(pid)) reapWaited(pid);
}

// ---------------------------------------------------------------------------------------
// The SIGCHLD watch, shared by every signal-driven Reaper and every pending waitFor().

/** What the watch needs to know of a signal-driven Reaper. */
export interface SignalReaper {
  readonly scope: ReapScope;
}

const signalReapers = new Set<SignalReaper>();
let watching = false;
let keepingAlive = false;
let sweepScheduled = false;

function refreshWatch(): void {
  const wanted = signalReapers.size > 0 || waiters.size > 0;
  if (wanted && !watching) {
    native.sigchldStart(onSigchld);
    watching = true;
  } else if (!wanted && watching) {
    native.sigchldStop();
    watching = false;
  }
  // A pending waitFor() keeps the process alive, as a blocking waitpid would.
  const keep = waiters.size > 0;
  if (keep !== keepingAlive) {
    native.sigchldKeepAlive(keep);
    keepingAlive = keep;
  }
}

// One SIGCHLD can stand for many exits, and libuv calls back once per signal delivered:
// collect the calls of one loop turn into one sweep.
function onSigchld(): void {
  if (sweepScheduled) return;
  sweepScheduled = true;
  setImmediate(sweepOnSignal);
}

function sweepOnSignal(): void {
  sweepScheduled = false; // a SIGCHLD from now on schedules another sweep
  let all = false;
  let own = false;
  for (const reaper of signalReapers) {
    if (reaper.scope === 'all') all = true;
    else own = true;
  }
  if (all) reapAll();
  else if (own) reapOwn();
  for (const pid of [...waiters.keys()]) reapIfWaited(pid);
}

/** A started Reaper without pollMs: reaps on each SIGCHLD, and once now for earlier exits. */
export function addSignalReaper(reaper: SignalReaper): void {
  signalReapers.add(reaper);
  refreshWatch();
  onSigchld(); // the first sweep, for children that ended before start()
}

export function removeSignalReaper(reaper: SignalReaper): void {
  if (signalReapers.delete(reaper)) refreshWatch();
}

// In a fork child the parent's children are not ours: pending waitFor() promises of the
// parent can never settle here. They are dropped (not rejected, which would surface as
// unhandled rejections in the child) and stop keeping the child's loop alive.
onFork(() => (waiters.size > 0 ? forgetParentsWaiters : undefined));

function forgetParentsWaiters(): void {
  waiters.clear();
  refreshWatch();
}

/** For leak checks (tests, scripts/stress-reap): is the SIGCHLD watch on, pending waits. */
export function reaperDiagnostics(): {
  watching: boolean;
  keepAlive: boolean;
  signalReapers: number;
  pendingWaits: number;
} {
  checkArity(arguments, 0, 0);
  const { watching: on, keepAlive } = native.sigchldState();
  return { watching: on, keepAlive, signalReapers: signalReapers.size, pendingWaits: waiters.size };
}
