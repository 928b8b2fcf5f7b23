// Seeds 000, 001 and 004 with the Process class: start() returns at once (the parent's
// "ending" line comes before the children's), join() waits; daemon = true ends the child with
// its parent; start() reaps earlier children (_cleanup), so one finished child stays a zombie
// only until the next start().
import { closeSync, writeSync } from 'fs';
import { Process, fork, pipe, waitpid } from '../../index';
import { DemoOutput, named, nameProcess, readPipe, sleepSync, stateOf, until } from './context';

export async function processDemo(out: DemoOutput): Promise<void> {
  out.title('process', 'Process: start(), join(), daemon — Python multiprocessing on fork()');
  out.explain(
    'new Process({ target, args, name, daemon }) is multiprocessing.Process: start() forks and',
    'runs target(...args) in the child, join() waits for it and reaps it. A daemonic child is',
    'terminated when its parent exits; and start() reaps children that already ended.',
  );
  nameProcess('process', 'main');
  const main = process.pid;

  out.step('1. three tasks: start() returns at once, join() waits');
  const work = (name: string): void => {
    out.say('child', `${name} is starting ....`);
    nameProcess('process', name);
    sleepSync(600);
    out.say('child', `${name} is ending ....`);
  };
  out.say('parent', 'main process starting ...');
  const tasks = [0, 1, 2].map((i) => new Process({ target: work, args: [`task_${i}`], name: `task_${i}` }));
  for (const task of tasks) task.start();
  out.say('parent', 'main process ending ... (but first it joins its children)');
  for (const task of tasks) await named(task.pid as number, task.name);
  out.table('three children running the same program:', [main, ...tasks.map((task) => task.pid as number)],
    new Map(tasks.map((task) => [task.pid as number, `← ${task.name}`])));
  const codes = await Promise.all(tasks.map((task) => task.join()));
  out.say('parent', `joined: ${tasks.map((task, i) => `${task.name} exit code ${codes[i]}`).join(', ')}`);
  for (const task of tasks) {
    if (stateOf(task.pid as number) !== null) throw new Error(`${task.name} was not reaped`);
  }
  out.line();

  out.step('2. daemon = true: the child is terminated when its parent exits');
  const [pidRead, pidWrite] = pipe();
  const [goRead, goWrite] = pipe();
  const parent = fork();
  if (parent === 0) {
    nameProcess('process', 'emperor');
    closeSync(pidRead);
    closeSync(goWrite);
    out.say('parent', 'Emperor: Tom takes the throne');
    const steward = new Process({
      name: 'max',
      daemon: true,
      target: () => {
        out.say('child', 'Steward max: alive (would work for 5 s)');
        nameProcess('process', 'max, daemonic');
        sleepSync(5000);
        out.say('child', 'Steward max: finished (never printed: terminated with the emperor)');
      },
    });
    steward.start();
    writeSync(pidWrite, `${steward.pid}\n`);
    readPipe(goRead, 1);
    out.say('parent', 'Emperor: Tom dies; his daemonic steward is terminated with him');
    process.exit(0);
  }
  closeSync(pidWrite);
  closeSync(goRead);
  const steward = Number(readPipe(pidRead).trim());
  closeSync(pidRead);
  await named(steward, 'max, daemonic');
  out.table('the parent and its daemonic child:', [parent, steward], new Map([
    [parent, '← parent'],
    [steward, '← daemon = true'],
  ]));
  closeSync(goWrite);
  const status = waitpid(parent);
  out.say('parent', `the emperor exited with code ${status?.exitCode}`);
  if (!(await until(() => stateOf(steward) === null, 3000))) {
    throw new Error(`the daemonic child ${steward} outlived its parent`);
  }
  out.table('its daemonic child is gone with it:', [steward]);
  out.line();

  out.step('3. start() reaps children that ended (Python _cleanup): at most one zombie lingers');
  const quick = (): void => nameProcess('process', 'quick');
  const first = new Process({ target: quick, name: 'first' });
  first.start();
  const firstPid = first.pid as number;
  await until(() => stateOf(firstPid) === 'Z');
  out.table('the first child has ended; nobody joined it:', [firstPid],
    new Map([[firstPid, '← zombie until the next start()']]));
  const second = new Process({
    target: () => {
      nameProcess('process', 'second');
      sleepSync(300);
    },
    name: 'second',
  });
  second.start();
  await named(second.pid as number, 'second');
  out.table('second.start() called _cleanup() first:', [firstPid, second.pid as number],
    new Map([[second.pid as number, '← the new child']]));
  await second.join();
  out.good(`first exit code ${first.exitCode}, second exit code ${second.exitCode}; nothing left behind`);
}
