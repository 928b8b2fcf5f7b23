// fork(): the POSIX call, with the policy that makes the child a working Node process.
import { existsSync } from 'fs';
import { checkArity } from './args';
import { childActions } from './child-runtime';
import { trackChild } from './children';
import { FORK_SAFE_FLAGS, REQUIRED_FORK_SAFE_FLAGS, isForkSafe } from './forksafe';
import { native } from './native';
import { requireMainThread } from './main-thread';

/** Requests that run on libuv's threadpool: the child would wait for them forever. */
const THREADPOOL_REQUESTS = new Set([
  'FSReqCallback',
  'FSReqPromise',
  'GetAddrInfoReqWrap',
  'GetNameInfoReqWrap',
]);

let warned = false;
const forkSafe = isForkSafe();

/**
 * fork(2), Python `os.fork`: returns 0 in the child and the child's pid in the parent.
 *
 * The child keeps running this program with a copy of the heap, its own event loop (timers,
 * handles and servers carried over), the right `process.pid`, and every way of ending
 * (process.exit, exitCode + natural end, uncaught exception, signal) giving the right status.
 * Refused with EBUSY while threadpool requests (fs, dns.lookup, crypto, zlib) are in flight.
 */
export function fork(): number {
  // Each function a parent calls between two forks costs it a page fault: the checks call
  // their helpers only when they fail.
  if (arguments.length !== 0) checkArity(arguments, 0, 0);
  if (!native.onMainThread) requireMainThread('fork()');
  const active = native.activeRequestCount();
  if (active !== 0) refuseInFlightThreadpoolWork(active);
  const actions = childActions();
  let pid: number;
  try {
    pid = native.fork();
  } catch (error) {
    throw explainForkError(error);
  }
  if (pid === 0) {
    // Inline, and no iterator: code that only children run costs each child its first run.
    if (actions !== null) for (let i = 0; i < actions.length; i++) actions[i]();
  } else {
    trackChild(pid);
    if (!forkSafe && !warned) warnNotForkSafe();
  }
  return pid;
}

// fork(2) never fails with ENOENT: on Linux it comes from the memory preparation, which reads
// /proc/self (statm, maps, smaps) to find the areas V8 keeps from fork children, and there is
// no other way to find them.
function explainForkError(error: unknown): unknown {
  if (
    process.platform !== 'linux' ||
    (error as NodeJS.ErrnoException).code !== 'ENOENT' ||
    existsSync('/proc/self')
  ) {
    return error;
  }
  return Object.assign(
    new Error(
      'fork ENOENT (/proc is not mounted: on Linux fork() needs /proc/self to find the memory ' +
        'V8 keeps from fork children)',
    ),
    {
      code: 'ENOENT',
      errno: (error as NodeJS.ErrnoException).errno,
      syscall: 'fork',
      path: '/proc/self',
    },
  );
}

// Stream requests complete through the child's re-armed loop like any handle's I/O; they are
// the only requests libuv counts that do not run on the threadpool.
const STREAM_REQUESTS = new Set([
  'WriteWrap',
  'ShutdownWrap',
  'TCPConnectWrap',
  'PipeConnectWrap',
  'SendWrap',
]);

function refuseInFlightThreadpoolWork(active: number): void {
  // libuv's count is the authority (a request whose callback is running has already left it);
  // the JS request objects only name what is pending. crypto and zlib jobs have no JS object.
  const requests = activeRequestNames();
  const inFlight = active - requests.filter((name) => STREAM_REQUESTS.has(name)).length;
  if (inFlight <= 0) return;
  const pending = requests.filter((name) => THREADPOOL_REQUESTS.has(name)).slice(0, inFlight);
  while (pending.length < inFlight) pending.push('threadpool work (crypto, zlib)');
  const counts = new Map<string, number>();
  for (const name of pending) counts.set(name, (counts.get(name) ?? 0) + 1);
  const list = [...counts].map(([name, n]) => `${n} × ${name}`).join(', ');
  const error = new Error(
    `fork EBUSY (requests in flight: ${list}). The child would wait for them forever; ` +
      'let them finish (await them) before fork().',
  );
  throw Object.assign(error, { code: 'EBUSY', errno: -16, syscall: 'fork', pending });
}

function activeRequestNames(): string[] {
  const getter = (process as unknown as { _getActiveRequests?: () => object[] })._getActiveRequests;
  if (typeof getter === 'function') {
    return getter.call(process).map((request) => request.constructor.name);
  }
  const known = new Set([...THREADPOOL_REQUESTS, ...STREAM_REQUESTS]);
  return process.getActiveResourcesInfo().filter((name) => known.has(name));
}

// Once per process. A warning is delivered on a later tick, and every child forked before that
// tick inherits it queued: so the tick is our own, it emits only in the process that queued
// it, and it emits the 'warning' event itself, as process.emitWarning's own tick does (with
// emitWarning there, a fork between the two ticks would still hand the warning on).
function warnNotForkSafe(): void {
  warned = true;
  const warning = Object.assign(
    new Error(
      `fork() in a Node process not started with ${REQUIRED_FORK_SAFE_FLAGS.join(' ')} may ` +
        'deadlock the child: V8 background threads do not exist there.',
    ),
    {
      name: 'Warning',
      code: 'POSIX_FORK_UNSAFE',
      detail:
        `Start node with ${FORK_SAFE_FLAGS.join(' ')}, use the shebang ` +
        `"#!/usr/bin/env -S node ${FORK_SAFE_FLAGS.join(' ')}", call ensureForkSafe() first, ` +
        'or run the script with "npx posix-fork run".',
    },
  );
  Error.captureStackTrace(warning, fork);
  const generation = native.forkGeneration();
  process.nextTick(() => {
    if (native.forkGeneration() === generation) process.emit('warning', warning);
  });
}
