// The demos `posix-fork demo <name>` runs: each one runs a program of examples/ (see run.ts),
// some with a part of their own around it (daemon.ts, server.ts).
import { DemoOutput } from './context';
import { daemonDemo } from './daemon';
import { DemoSpec, runDemo } from './run';
import { serverDemo } from './server';

export interface Demo extends DemoSpec {
  run(out: DemoOutput): Promise<void>;
}

const SPECS: readonly DemoSpec[] = [
  {
    name: 'fork',
    summary: 'fork() returns twice; the child gets a copy of memory',
    explain: [
      'fork() copies the calling process. Both copies continue from the same line: the parent',
      "gets the child's pid, the child gets 0. Memory is copied too (copy-on-write), so a change",
      'in one process is invisible to the other. The child here is a whole Node process.',
    ],
    example: 'fork',
  },
  {
    name: 'zombie',
    summary: 'a child exits, the parent does not wait: <defunct>',
    explain: [
      'When a process exits, the kernel keeps a small entry for it (pid, exit status) until its',
      'parent reads the status with wait()/waitpid(). Until then ps shows it in state Z,',
      '"<defunct>". A parent that never waits piles them up and can run out of pids.',
    ],
    example: 'zombie',
    args: () => ['--quick'],
  },
  {
    name: 'orphan',
    summary: 'the parent exits first; init adopts the child',
    explain: [
      'A child whose parent has exited is an orphan. It is not harmed: the kernel re-parents it',
      'to init (pid 1) or to the nearest ancestor that asked to be a "child subreaper", and that',
      'process reaps it when it ends.',
    ],
    example: 'orphan',
  },
  {
    name: 'reap-signal',
    summary: 'reap in a SIGCHLD handler: waitpid(-1, WNOHANG)',
    explain: [
      'The kernel sends SIGCHLD to a parent when a child exits. A handler that calls',
      'waitpid(-1, WNOHANG) in a loop collects every child that has ended (one signal can stand',
      'for several exits) and returns at once when none has. Here: new Reaper({ scope: "all" }).',
    ],
    example: 'reap',
    args: () => ['--quick'],
  },
  {
    name: 'reap-poll',
    summary: 'reap by polling with WNOHANG ("one loop...")',
    explain: [
      'WNOHANG makes waitpid() return at once when no child has ended, so a busy parent can',
      'check now and then. Here it checks every 500 ms with reapChildren({ scope: "all" }).',
      'The price: between the exit and the next check, the child is a zombie.',
    ],
    example: 'reap',
    args: () => ['--poll', '--quick'],
  },
  daemonDemo,
  {
    name: 'process',
    summary: 'Process start/join/daemon, like multiprocessing',
    explain: [
      'new Process({ target, args, name, daemon }) is multiprocessing.Process: start() forks and',
      'runs target(...args) in the child, join() waits for it and reaps it. A daemonic child is',
      'terminated when its parent exits; and start() reaps children that already ended.',
    ],
    example: 'process',
    args: () => ['--quick'],
  },
  serverDemo,
];

export const DEMOS: readonly Demo[] = SPECS.map((spec) => ({
  ...spec,
  run: (out) => runDemo(spec, out),
}));

export function findDemo(name: string): Demo | undefined {
  return DEMOS.find((demo) => demo.name === name);
}
