// The demos `posix-fork demo <name>` runs: each a program of the seed texts, live.
import { DemoOutput } from './context';
import { daemonDemo } from './daemon';
import { forkDemo } from './fork';
import { orphanDemo } from './orphan';
import { processDemo } from './process';
import { reapPollDemo } from './reap-poll';
import { reapSignalDemo } from './reap-signal';
import { serverDemo } from './server';
import { zombieDemo } from './zombie';

export interface Demo {
  name: string;
  summary: string;
  run(out: DemoOutput): Promise<void>;
}

export const DEMOS: readonly Demo[] = [
  { name: 'fork', summary: 'fork() returns twice; the child gets a copy of memory', run: forkDemo },
  { name: 'zombie', summary: 'a child exits, the parent does not wait: <defunct>', run: zombieDemo },
  { name: 'orphan', summary: 'the parent exits first; init adopts the child', run: orphanDemo },
  { name: 'reap-signal', summary: 'reap in a SIGCHLD handler: waitpid(-1, WNOHANG)', run: reapSignalDemo },
  { name: 'reap-poll', summary: 'reap by polling with WNOHANG ("one loop...")', run: reapPollDemo },
  { name: 'daemon', summary: 'the double fork, step by step, and the pidfile', run: daemonDemo },
  { name: 'process', summary: 'Process start/join/daemon, like multiprocessing', run: processDemo },
  { name: 'server', summary: 'the forking server: a child per connection, each reaped', run: serverDemo },
];

export function findDemo(name: string): Demo | undefined {
  return DEMOS.find((demo) => demo.name === name);
}
