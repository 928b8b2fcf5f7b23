// Cure 2 from the seed (002): the parent polls with WNOHANG, here every 0.5 s, until its child
// has been reaped. Python's recovery() is os.waitpid(-1, os.WNOHANG); reapChildren() is one
// such non-blocking sweep (of this library's children). Between the child's end and the next
// poll, `ps` shows it as a zombie: polling reaps late by up to one interval.
// (new Reaper({ pollMs: 500 }) runs the same loop in the background.)
//
//   node --single-threaded dist/examples/reap-poll.js [--quick]   (seed: child sleeps 3 s)
import { fork, getpid, reapChildren } from '../src';
import { psLine } from './ps-line';

const REAPED = 'no such process: reaped';
const scale = process.argv.includes('--quick') ? 0.1 : 1;

console.log(`Before the fork, parent pid is ${getpid()}`);
const pid = fork();
if (pid === 0) {
  console.log(`Child sleeping ${+(3 * scale).toFixed(1)} seconds...`);
  setTimeout(() => {
    console.log('Child sleep done.');
    process.exit(0);
  }, 3000 * scale);
} else {
  console.log(`Hello from the parent, the child pid is ${pid}`);
  const loop = setInterval(() => {
    const state = psLine(pid, REAPED); // what ps shows just before this poll
    const reaped = reapChildren();
    console.log(`one loop...   ${state}`);
    for (const status of reaped) {
      console.log(`reaped child process ${status.pid}, status is ${status.status}`);
    }
    if (reaped.some((status) => status.pid === pid)) {
      clearInterval(loop);
      console.log(psLine(pid, REAPED));
      console.log('Parent run end...');
    }
  }, 500 * scale);
}
