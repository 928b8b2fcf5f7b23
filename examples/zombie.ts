// A zombie, as the seeds show it (002 "examples of zombie process generation", 003 test_a):
// the child ends at once, the parent does not wait for it, and `ps` shows the child in state
// Z as "<defunct>" until the parent reaps it (here: after a few seconds, with waitpid()).
//
//   node --single-threaded dist/examples/zombie.js [--quick]   (seed: the parent sleeps 50 s)
import { fork, getpid, getppid, waitpid } from '../src';
import { psLine } from './ps-line';

const scale = process.argv.includes('--quick') ? 0.1 : 1;

const pid = fork();
if (pid === 0) {
  console.log(`I am child process (${getpid()}) and my parent is ${getppid()}.`);
  process.exit(3); // ends now; nobody has asked for its status yet
}

console.log(`I (${getpid()}) just created a child process (${pid}).`);
setTimeout(() => {
  console.log('\nThe parent is busy and has not called wait(); ps -o stat,ppid,pid,cmd:');
  console.log('STAT   PPID    PID CMD');
  console.log(psLine(getpid()));
  console.log(psLine(pid));
}, 1000 * scale);

setTimeout(() => {
  // The cure: read the exit status. The kernel then frees the process-table entry.
  const status = waitpid(pid);
  console.log(`\nwaitpid(${pid}) -> exit code ${status?.exitCode}; the zombie is gone:`);
  console.log('STAT   PPID    PID CMD');
  console.log(psLine(pid));
  console.log(`${getpid()} end`);
}, 5000 * scale);
