// An orphan, as the seeds show it (000, 002): the parent exits while its child still runs;
// the child is adopted by init (pid 1) or by the nearest "child subreaper" (systemd --user,
// a container's init), which reaps it when it ends. Orphans are harmless.
//
//   node --single-threaded dist/examples/orphan.js
// The shell prompt comes back when the parent exits; the orphan prints a moment later.
import { fork, getpid, getppid, processInfo } from '../src';
import { psLine } from './ps-line';

const parent = getpid();
const pid = fork();
if (pid === 0) {
  console.log(`child ${getpid()}: my parent is ${getppid()}`);
  // Wait (at most 5 s) until the parent has gone and someone adopted this process.
  const started = Date.now();
  const poll = setInterval(() => {
    if (getppid() === parent && Date.now() - started < 5000) return;
    clearInterval(poll);
    const adopter = processInfo(getppid());
    console.log(
      `child ${getpid()}: my parent ${parent} has exited; I am an orphan, adopted by ` +
        `${getppid()} (${adopter?.command ?? '?'})`,
    );
    console.log('STAT   PPID    PID CMD');
    console.log(psLine(getpid()));
    console.log(`child ${getpid()}: ending; my new parent reaps me`);
  }, 10);
} else {
  console.log(`parent ${parent}: created child ${pid}, exiting without waiting for it`);
  console.log('STAT   PPID    PID CMD');
  console.log(psLine(parent));
  console.log(psLine(pid));
  process.exit(0); // like the seed's sys.exit(0)
}
