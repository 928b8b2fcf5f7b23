// Cure 1 from the seeds (002, 003 test_b): reap children when SIGCHLD arrives. Python:
//   signal.signal(signal.SIGCHLD, handler)  # handler loops os.waitpid(-1, os.WNOHANG)
// Here a Reaper does that loop on a libuv SIGCHLD watch (so child_process keeps working) and
// emits 'exit' per reaped child. The parent stays busy; the child is reaped the moment it
// ends, so `ps` never shows it as a zombie.
//
//   node --single-threaded dist/examples/reap-signal.js [--quick]   (seed: 3 s and 10 s)
import { Reaper, fork, getpid } from '../src';
import { psLine } from './ps-line';

const REAPED = 'no such process: reaped';
const scale = process.argv.includes('--quick') ? 0.1 : 1;

const reaper = new Reaper().start();
reaper.on('exit', (status) => {
  console.log(`reaped child process ${status.pid}, status is ${status.status}`);
  console.log(`child process ${status.pid} exit with exitcode ${status.exitCode}`);
  console.log('STAT   PPID    PID CMD');
  console.log(psLine(status.pid, REAPED));
});

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
  console.log(`Parent sleeping ${+(10 * scale).toFixed(1)} seconds...`);
  setTimeout(() => {
    console.log('STAT   PPID    PID CMD');
    console.log(psLine(pid, REAPED));
  }, 1000 * scale);
  setTimeout(() => {
    console.log('Parent sleep done.');
    reaper.stop();
  }, 10000 * scale);
}
