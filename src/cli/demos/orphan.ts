// Seed 000's orphan: the parent exits first (sys.exit(0)); the child lives on and reports its
// new parent — init, or the nearest "child subreaper" ancestor — which also reaps it.
import { closeSync, writeSync } from 'fs';
import { fork, getppid, pipe, waitpid } from '../../index';
import { processName, psRow } from '../ps';
import { DemoOutput, ended, named, nameProcess, readPipe, sleepSync, stateOf, until } from './context';

export async function orphanDemo(out: DemoOutput): Promise<void> {
  out.title('orphan', 'the parent exits first; the child is adopted');
  out.explain(
    'A child whose parent has exited is an orphan. It is not harmed: the kernel re-parents it',
    'to init (pid 1) or to the nearest ancestor that asked to be a "child subreaper", and that',
    'process reaps it when it ends.',
  );
  nameProcess('orphan');
  const [pidRead, pidWrite] = pipe(); // the parent tells the demo its child's pid
  const [goRead, goWrite] = pipe(); // closed by the demo: the orphan may end
  out.say('demo', 'fork() a parent, which will fork a child and exit');
  const parent = fork();
  if (parent === 0) {
    nameProcess('orphan', 'parent');
    closeSync(pidRead);
    closeSync(goWrite);
    const parentPid = process.pid;
    out.say('parent', `I am the parent: pid ${parentPid}, ppid ${getppid()}`);
    const child = fork();
    if (child === 0) {
      nameProcess('orphan', 'child');
      closeSync(pidWrite);
      // The parent's pid as the parent knew it: a child's own first getppid() may already
      // come after the parent exited, and name the adopter.
      out.say('child', `I am the child, my parent is ${parentPid}`);
      // The seed's time.sleep(1): long enough for the parent to be gone.
      for (let i = 0; i < 500 && getppid() === parentPid; i++) sleepSync(10);
      const adopter = getppid();
      out.say('child', `my parent is now ${adopter} (${processName(adopter) ?? '?'})`);
      nameProcess('orphan', 'orphan');
      readPipe(goRead, 1); // until the demo has shown the table
      out.say('child', 'done, exiting');
      process.exit(0);
    }
    closeSync(goRead);
    writeSync(pidWrite, `${child}\n`);
    out.say('parent', 'parent exiting (sys.exit(0)) without waiting for the child');
    process.exit(0);
  }
  closeSync(pidWrite);
  closeSync(goRead);
  const child = Number(readPipe(pidRead).trim());
  closeSync(pidRead);
  waitpid(parent); // the demo's own child: reaped, so it leaves no zombie
  if (!Number.isInteger(child) || child <= 0) throw new Error('the parent did not report its child');
  // The child renames itself once it has seen its new parent.
  if (!(await named(child, 'orphan', 10000))) throw new Error(`child ${child} was not re-parented`);
  const adopter = parentOf(child);
  out.line();
  out.table(`the parent ${parent} is gone; ps -o stat,ppid,pid,cmd:`, [parent, child], new Map([
    [child, `← orphan: PPID is now ${adopter} (${adopter === null ? '?' : processName(adopter) ?? '?'})`],
  ]));
  out.line();
  closeSync(goWrite);
  // The adopter reaps it; the demo cannot (it is not the demo's child) and only watches.
  await until(() => ended(child), 5000);
  const reaped = await until(() => stateOf(child) === null, 3000, 20);
  if (reaped) {
    out.good(`the orphan ended and pid ${adopter} reaped it: nothing left behind`);
  } else if (ended(child)) {
    out.note(`the orphan ended; it is a zombie until pid ${adopter} reaps it (that process is slow to reap)`);
  } else {
    process.kill(child, 'SIGKILL');
    throw new Error(`orphan ${child} did not end; killed it`);
  }
}

function parentOf(pid: number): number | null {
  return psRow(pid)?.ppid ?? null;
}
