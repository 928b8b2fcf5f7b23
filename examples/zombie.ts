// A zombie: the child has ended, its parent has not asked for its exit status yet. The kernel
// keeps the child's entry (pid, status) until the parent calls wait()/waitpid(); ps shows it
// in state Z as "<defunct>", and no signal can remove it: it is already dead.
//
//   node dist/examples/zombie.js [--quick]    (the parent waits 5 s before it reaps; 0.5 s)
import { ensureForkSafe, fork, getpid, getppid, processInfo, waitpid } from 'posix-fork';
import { showProcesses } from './ps';

ensureForkSafe(); // see examples/fork.ts

const waitMs = process.argv.includes('--quick') ? 500 : 5000;

const pid = fork();
if (pid === 0) {
  console.log(
    `child ${getpid()}: I am child process (${getpid()}) and my parent is ${getppid()}; exiting with code 3`,
  );
  process.exit(3);
}

console.log(
  `parent ${getpid()}: I just created a child process (${pid}); I will not wait for it yet`,
);

// processInfo() reads the state ps shows: poll until the child has ended.
const poll = setInterval(() => {
  if (processInfo(pid)?.state !== 'Z') return;
  clearInterval(poll);
  showProcesses('the child has ended and nobody has read its status:', [getpid(), pid]);
  process.kill(pid, 'SIGKILL');
  console.log(
    `parent ${getpid()}: kill -9 ${pid} does nothing; its state is still ${processInfo(pid)?.state}`,
  );
  setTimeout(reap, waitMs);
}, 10);

function reap(): void {
  // Reading the status is what frees the entry.
  const status = waitpid(pid);
  console.log(
    `parent ${getpid()}: reaped child process ${pid}, status ${status?.status} (exit code ${status?.exitCode})`,
  );
  showProcesses('after waitpid() the kernel has freed the entry:', [getpid(), pid]);
}
