// An orphan: the parent exits while its child still runs. The kernel gives the child a new
// parent, init (pid 1) or the nearest ancestor that asked to be a "child subreaper" (systemd
// --user, a container's init), which reaps it when it ends. Orphans are harmless.
//
//   node dist/examples/orphan.js
// The shell prompt comes back when the parent exits; the orphan prints a moment later.
import { ensureForkSafe, fork, getpid, getppid, processInfo } from 'posix-fork';
import { showProcesses } from './ps';

ensureForkSafe(); // see examples/fork.ts

const parent = getpid();
console.log(`parent ${parent}: I am the parent: pid ${parent}, ppid ${getppid()}`);
const pid = fork();
if (pid === 0) {
  // The parent's pid as the parent knew it: by the child's first getppid() the parent may
  // already have exited.
  console.log(`child ${getpid()}: I am the child, my parent is ${parent}`);
  // Wait (at most 5 s) until the parent has gone and another process adopted this one.
  const started = Date.now();
  const poll = setInterval(() => {
    if (getppid() === parent && Date.now() - started < 5000) return;
    clearInterval(poll);
    const adopter = getppid();
    console.log(
      `child ${getpid()}: my parent is now ${adopter} (${processInfo(adopter)?.command ?? '?'}): I am an orphan`,
    );
    showProcesses(`the parent ${parent} has exited; ps -o stat,ppid,pid,comm:`, [parent, getpid()]);
    console.log(`child ${getpid()}: ending; my new parent reaps me`);
  }, 10);
} else {
  showProcesses('the parent and its child:', [parent, pid]);
  console.log(`parent ${parent}: exiting without waiting for my child ${pid}`);
  process.exit(0);
}
