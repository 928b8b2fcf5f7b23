// Seed 002 examples one and two, seed 001's independent memory: fork() returns twice, and the
// child's change to a variable stays in the child's copy.
import { closeSync, writeSync } from 'fs';
import { fork, getppid, pipe, waitpid } from '../../index';
import { DemoOutput, nameProcess, readPipe } from './context';

export async function forkDemo(out: DemoOutput): Promise<void> {
  out.title('fork', 'fork() returns twice: once in the parent, once in the new child');
  out.explain(
    'fork() copies the calling process. Both copies continue from the same line: the parent',
    "gets the child's pid, the child gets 0. Memory is copied too (copy-on-write), so a change",
    "in one process is invisible to the other. The child here is a whole Node process.",
  );
  nameProcess('fork', 'parent');
  let source = 10;
  const parent = process.pid;
  out.say('parent', `Process (${parent}) start...  source = ${source}`);
  // Two pipes keep the story in order: the child says it has spoken, then waits to be let go.
  const [spokeRead, spokeWrite] = pipe();
  const [goRead, goWrite] = pipe();
  const pid = fork();
  if (pid === 0) {
    nameProcess('fork', 'child');
    closeSync(spokeRead);
    closeSync(goWrite);
    out.say('child', `fork() returned 0. I am child process (${process.pid}) and my parent is ${getppid()}.`);
    source -= 1;
    out.say('child', `source -= 1  →  source = ${source} in the child`);
    writeSync(spokeWrite, 'x');
    readPipe(goRead, 1); // EOF when the parent has shown the process table
    process.exit(0);
  }
  closeSync(spokeWrite);
  closeSync(goRead);
  out.say('parent', `fork() returned ${pid}. I (${parent}) just created a child process (${pid}).`);
  readPipe(spokeRead, 1);
  closeSync(spokeRead);
  out.say('parent', `source = ${source} in the parent: the child changed its own copy`);
  out.line();
  out.table('two processes now run the same program:', [parent, pid], new Map([
    [parent, '← parent'],
    [pid, '← child: its PPID is the parent'],
  ]));
  out.line();
  closeSync(goWrite);
  const status = waitpid(pid);
  out.say('parent', `waitpid(${pid}) → exit code ${status?.exitCode}; the child is reaped`);
}
