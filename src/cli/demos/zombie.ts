// Seeds 002 and 003: a child exits while its parent does not wait; ps shows it as Z
// "<defunct>"; kill cannot remove it; waitpid() does.
import { fork, waitpid } from '../../index';
import { DemoOutput, nameProcess, stateOf, until } from './context';

export async function zombieDemo(out: DemoOutput): Promise<void> {
  out.title('zombie', 'a child has exited, its parent has not called wait() yet');
  out.explain(
    'When a process exits, the kernel keeps a small entry for it (pid, exit status) until its',
    'parent reads the status with wait()/waitpid(). Until then ps shows it in state Z,',
    '"<defunct>". A parent that never waits piles them up and can run out of pids.',
  );
  nameProcess('zombie', 'parent');
  const parent = process.pid;
  out.say('parent', 'fork()');
  const child = fork();
  if (child === 0) {
    nameProcess('zombie', 'child');
    out.say('child', `I am child process (${process.pid}) and my parent is ${process.ppid}.`);
    out.say('child', 'exiting with code 3, like os._exit(3)');
    process.exit(3);
  }
  out.say('parent', `I (${parent}) just created a child process (${child}). I will not wait for it yet.`);
  if (!(await until(() => stateOf(child) === 'Z'))) {
    throw new Error(`child ${child} did not become a zombie (state ${stateOf(child)})`);
  }
  out.line();
  out.table("the child has exited; nobody has read its status — ps -o stat,ppid,pid,cmd:",
    [parent, child], new Map([
      [parent, '← the parent, busy elsewhere'],
      [child, '← zombie: exited, not yet waited for'],
    ]));
  out.line();
  out.say('parent', `kill -9 ${child}: a zombie is already dead, signals do nothing`);
  process.kill(child, 'SIGKILL');
  await until(() => false, 100);
  out.note(`state of ${child} after SIGKILL: ${stateOf(child)}`);
  out.line();
  out.say('parent', `waitpid(${child}) — the cure: read the exit status`);
  const status = waitpid(child);
  out.say('parent',
    `reaped child process ${child}, status ${status?.status} (exit code ${status?.exitCode})`);
  out.line();
  out.table('after waitpid() the kernel frees the entry:', [parent, child]);
  if (stateOf(child) !== null) throw new Error(`child ${child} is still in the process table`);
  out.line();
  out.good('no zombie left behind');
}
