// fork() returns twice: in the parent it returns the child's pid, in the child 0. Both copies
// go on from the same line with the same memory, copied: a change the child makes to a
// variable stays in the child's copy.
//
//   node dist/examples/fork.js
import { ensureForkSafe, fork, getpid, getppid, waitpid } from 'posix-fork';
import { showProcesses } from './ps';

// fork() keeps running JavaScript in the child only in the fork-safe mode: this re-executes
// the program under `node --single-threaded` (same pid) when it was started without it.
ensureForkSafe();

let source = 10;
console.log(`parent ${getpid()}: start, source = ${source}`);

const pid = fork();
if (pid === 0) {
  console.log(
    `child ${getpid()}: fork() returned 0. I am child process (${getpid()}) and my parent is ${getppid()}.`,
  );
  source -= 1;
  console.log(`child ${getpid()}: source -= 1, so source = ${source} in the child`);
  showProcesses('two processes now run the same program:', [getppid(), getpid()]);
  process.exit(0);
}

console.log(`parent ${getpid()}: fork() returned ${pid}, the pid of my new child`);
// waitpid() blocks until the child has ended, then collects its exit status.
const status = waitpid(pid);
console.log(
  `parent ${getpid()}: waitpid(${pid}) -> exit code ${status?.exitCode}; the child is reaped`,
);
console.log(`parent ${getpid()}: source = ${source} in the parent: the child changed its own copy`);
