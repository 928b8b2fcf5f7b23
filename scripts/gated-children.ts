// Children that exit together, for the reaper's stress test and benchmark: each blocks on a
// shared pipe (the gate); closing the parent's write end releases them all. Each writes its
// CLOCK_MONOTONIC time just before _exit(), so "last exit -> last reaped" is measured against
// the children's own clock readings.
import { closeSync, readFileSync, readSync, writeSync } from 'fs';
import { _exit, fork, pipe } from '../src';

/** The exit code of child `i`: 1 to 255, so a wrong status shows. */
export const codeOf = (i: number): number => (i % 255) + 1;

export interface GatedChildren {
  /** pid -> the exit code it will end with. */
  expected: Map<number, number>;
  /** Close it to open the gate. */
  gateWrite: number;
  /** Where the children's exit times arrive; readExitTimes() reads them. */
  timesRead: number;
}

/** Forks `children` children that wait at the gate, then exit with codeOf(i). */
export function forkGatedChildren(children: number): GatedChildren {
  const [gateRead, gateWrite] = pipe();
  const [timesRead, timesWrite] = pipe();
  const expected = new Map<number, number>();
  for (let i = 0; i < children; i++) {
    const pid = fork();
    if (pid === 0) {
      closeSync(gateWrite);
      closeSync(timesRead);
      try {
        readSync(gateRead, Buffer.alloc(1), 0, 1, null); // returns at EOF: the gate opened
      } finally {
        writeSync(timesWrite, `${process.hrtime.bigint()}\n`);
        _exit(codeOf(i));
      }
    }
    expected.set(pid, codeOf(i));
  }
  closeSync(gateRead);
  closeSync(timesWrite);
  return { expected, gateWrite, timesRead };
}

/** Reads (to EOF: every child has written) and closes the times pipe; the first and last exit. */
export function readExitTimes(timesRead: number): { first: bigint; last: bigint } {
  const times = readFileSync(timesRead, 'utf8').trim().split('\n').filter(Boolean).map(BigInt);
  closeSync(timesRead);
  return {
    first: times.reduce((a, b) => (a < b ? a : b)),
    last: times.reduce((a, b) => (a > b ? a : b)),
  };
}
