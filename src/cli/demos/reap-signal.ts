// Seed 002 cure 1 and seed 003: a SIGCHLD handler that loops waitpid(-1, WNOHANG) reaps each
// child the moment it exits, so no zombie is ever seen; afterwards waitpid raises ECHILD.
import { Reaper, WNOHANG, WaitStatus, fork, waitpid } from '../../index';
import { DemoOutput, named, nameProcess, stateOf, until } from './context';

export async function reapSignalDemo(out: DemoOutput): Promise<void> {
  out.title('reap-signal', 'cure 1: reap in a SIGCHLD handler with waitpid(-1, WNOHANG)');
  out.explain(
    'The kernel sends SIGCHLD to a parent when a child exits. A handler that calls',
    'waitpid(-1, WNOHANG) in a loop collects every child that has ended (one signal can stand',
    'for several exits) and returns at once when none has. Here: new Reaper({ scope: "all" }).',
  );
  nameProcess('reap-signal', 'parent');
  const parent = process.pid;
  const reaped: WaitStatus[] = [];
  const reaper = new Reaper({ scope: 'all' });
  reaper.on('exit', (status) => {
    reaped.push(status);
    out.say('parent', `SIGCHLD → waitpid(-1, WNOHANG): reaped child process ${status.pid}, ` +
      `status ${status.status} (exit code ${status.exitCode ?? `signal ${status.signal}`})`);
  });
  reaper.start();
  out.say('parent', `Before the fork, parent pid is ${parent}`);
  const child = fork();
  if (child === 0) {
    reaper.stop(); // the child inherited the handler; it has no children to reap
    out.say('child', 'Child sleeping 1 second...');
    nameProcess('reap-signal', 'child');
    setTimeout(() => {
      out.say('child', 'Child sleep done. Exiting with code 3.');
      process.exit(3);
    }, 1000);
    return new Promise(() => {}); // the child ends in the timer above
  }
  out.say('parent', `Hello from the parent, the child pid is ${child}`);
  out.say('parent', 'Parent sleeping (doing other work; the handler runs when SIGCHLD comes)...');
  await named(child, 'child');
  out.line();
  out.table('while the child sleeps:', [parent, child], new Map([[child, '← child, sleeping']]));
  out.line();
  const done = await until(() => reaped.some((status) => status.pid === child), 10000);
  reaper.stop();
  if (!done) throw new Error(`child ${child} was not reaped`);
  out.say('parent', 'Parent sleep done.');
  out.line();
  out.table('the child was reaped the moment it exited; it never lingered as a zombie:', [parent, child]);
  if (stateOf(child) !== null) throw new Error(`child ${child} is still in the process table`);
  out.line();
  try {
    waitpid(-1, WNOHANG);
    out.note('waitpid(-1, WNOHANG) found another child');
  } catch (error) {
    out.say('parent', `waitpid(-1, WNOHANG) → ${(error as NodeJS.ErrnoException).code}: ` +
      'current process has no existing unwaited-for child processes');
  }
  out.good('no zombie left behind');
}
