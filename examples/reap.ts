// Two ways to reap a child the moment it ends, or soon after, while the parent does other work.
//
//   node dist/examples/reap.js [--poll] [--quick]    (the child sleeps 3 s; 1.2 s)
//
// By default, on SIGCHLD: the kernel signals the parent when a child ends, and a handler
// calls waitpid(-1, WNOHANG) in a loop (one signal can stand for several children) until no
// ended child is left. A Reaper with scope 'all' is that handler: the child is reaped at once
// and ps never shows it as a zombie.
//
// With --poll: the parent calls waitpid(-1, WNOHANG) every half second (reapChildren() is one
// such sweep). Between the child's end and the next poll, ps shows it as a zombie.
import {
  Reaper,
  WNOHANG,
  ensureForkSafe,
  fork,
  getpid,
  processInfo,
  reapChildren,
  waitpid,
} from 'posix-fork';
import type { WaitStatus } from 'posix-fork';
import { showProcesses } from './ps';

ensureForkSafe(); // see examples/fork.ts

const poll = process.argv.includes('--poll');
const sleepMs = process.argv.includes('--quick') ? 1200 : 3000;
const POLL_MS = 500;

const reaper = poll ? null : new Reaper({ scope: 'all' }).start();

console.log(`parent ${getpid()}: before the fork`);
const child = fork();
if (child === 0) {
  reaper?.stop(); // the child has no children of its own to reap
  console.log(`child ${getpid()}: sleeping ${sleepMs / 1000} seconds...`);
  setTimeout(() => {
    console.log(`child ${getpid()}: sleep done, exiting with code 3`);
    process.exit(3);
  }, sleepMs);
} else {
  console.log(`parent ${getpid()}: the child pid is ${child}`);
  showProcesses('while the child sleeps:', [getpid(), child]);
  if (reaper !== null) reapOnSignal(reaper);
  else reapByPolling();
}

function reaped(status: WaitStatus): void {
  console.log(
    `parent ${getpid()}: reaped child process ${status.pid}, status ${status.status} (exit code ${status.exitCode})`,
  );
}

function reapOnSignal(signalReaper: Reaper): void {
  console.log(`parent ${getpid()}: doing other work; the handler runs when SIGCHLD comes`);
  // A started Reaper does not keep the process alive: the parent's "work" does.
  const work = setInterval(() => {}, 1000);
  signalReaper.on('exit', (status) => {
    reaped(status);
    if (status.pid !== child) return;
    signalReaper.stop();
    clearInterval(work);
    showProcesses('the child was reaped the moment it ended, it never lingered as a zombie:', [
      getpid(),
      child,
    ]);
    try {
      waitpid(-1, WNOHANG);
    } catch (error) {
      console.log(
        `parent ${getpid()}: waitpid(-1, WNOHANG) -> ${(error as NodeJS.ErrnoException).code}: no child left to wait for`,
      );
    }
  });
}

function reapByPolling(): void {
  let zombieShown = false;
  const loop = setInterval(() => {
    if (!zombieShown && processInfo(child)?.state === 'Z') {
      zombieShown = true;
      showProcesses('the child has ended but is not reaped until the next poll:', [
        getpid(),
        child,
      ]);
    }
    const statuses = reapChildren({ scope: 'all' });
    console.log(`parent ${getpid()}: one loop...`);
    statuses.forEach(reaped);
    if (statuses.some((status) => status.pid === child)) {
      clearInterval(loop);
      showProcesses('after the poll that reaped it:', [getpid(), child]);
      console.log(`parent ${getpid()}: run end`);
    }
  }, POLL_MS);
}
