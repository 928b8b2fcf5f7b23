// Round trip fork -> child ends -> parent has the status, against peers measured in the same
// run, and the memory of 50 idle children. Run: npm run bench:fork [-- --rounds 500]
import { ChildProcess, execFileSync, fork as cpFork, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as posixFork from '../src';
import { native } from '../src/native';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const ROUNDS = option('rounds', 500);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-bench-'));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
};
const now = () => Number(process.hrtime.bigint()) / 1e6;

// Called as the README's CommonJS example imports them, `const { fork, _exit, waitpid } =
// require('posix-fork')`: plain bindings. (An ES module import of the package loads all of it
// at once, and the parent's extra memory costs each fork more: figures in docs/performance.md.)
// The 'pf._exit' variant calls `_exit` as a property of the module object, as TypeScript
// compiles a named import to CommonJS: the child runs that property load for the first time,
// and V8's inline-cache miss there (its runtime code faulted in, the feedback written) is paid
// by each child.
const { fork, _exit, waitpid } = posixFork;

function posixForkRoundTrip(rounds: number, end: 'exit' | 'pf._exit' | 'process.exit'): number {
  const times: number[] = [];
  for (let i = 0; i < rounds + 20; i++) {
    const start = now();
    const pid = fork();
    if (pid === 0) {
      if (end === 'exit') _exit(0);
      if (end === 'pf._exit') posixFork._exit(0);
      process.exit(0);
    }
    waitpid(pid);
    if (i >= 20) times.push(now() - start); // the first forks fill the caches
  }
  return median(times);
}

async function childProcessRoundTrip(rounds: number, start: () => ChildProcess): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = now();
    await new Promise<void>((resolve) => start().on('exit', () => resolve()));
    times.push(now() - t0);
  }
  return median(times);
}

function pythonRoundTrip(rounds: number): number | null {
  const program = [
    'import os, sys, time',
    'times = []',
    `for i in range(${rounds} + 20):`,
    '    t = time.perf_counter()',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        os._exit(0)',
    '    os.waitpid(pid, 0)',
    '    if i >= 20: times.append((time.perf_counter() - t) * 1000)',
    'times.sort()',
    'print(times[len(times) // 2])',
  ].join('\n');
  const run = spawnSync('python3', ['-c', program], { encoding: 'utf8' });
  return run.status === 0 ? Number(run.stdout.trim()) : null;
}

function cRoundTrip(rounds: number): number | null {
  const source = path.join(work, 'roundtrip.c');
  const binary = path.join(work, 'roundtrip');
  fs.writeFileSync(
    source,
    `#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}
int main(void) {
  enum { N = ${rounds} };
  static double t[N];
  for (int i = 0; i < N + 20; i++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int status;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (i >= 20) t[i - 20] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  }
  qsort(t, N, sizeof t[0], cmp);
  printf("%f\\n", t[N / 2]);
  return 0;
}
`,
  );
  try {
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return Number(execFileSync(binary, { encoding: 'utf8' }).trim());
}

function pssKb(pid: number): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)![1]);
}

async function memoryOfIdleChildren(count: number) {
  // posix-fork: children forked from this process, idle in their event loop.
  const forked: number[] = [];
  for (let i = 0; i < count; i++) {
    const pid = fork();
    if (pid === 0) {
      setTimeout(() => process.exit(0), 60000); // killed long before; a safety net
      // keep the bench's own timers and handles from running in the idle child
      return null;
    }
    forked.push(pid);
  }
  const idleScript = path.join(work, 'idle.js');
  fs.writeFileSync(
    idleScript,
    'setTimeout(() => {}, 60000); process.send && process.send("up");\n',
  );
  const cps: ChildProcess[] = [];
  await Promise.all(
    Array.from({ length: count }, () => {
      const child = cpFork(idleScript, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      cps.push(child);
      return new Promise((resolve) => child.once('message', resolve));
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // let both sets settle
  const forkedPss = forked.reduce((sum, pid) => sum + pssKb(pid), 0);
  const cpPss = cps.reduce((sum, child) => sum + pssKb(child.pid as number), 0);
  for (const pid of forked) process.kill(pid, 'SIGKILL');
  for (const pid of forked) waitpid(pid);
  await Promise.all(
    cps.map(
      (child) =>
        new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGKILL');
        }),
    ),
  );
  return { forkedPss, cpPss };
}

// Each measurement starts from a fresh parent, as Python's and C's do: the memory part runs in
// a second process (the same script with --part memory), after the round trips here.
async function main() {
  if (process.argv.includes('--part')) {
    const memory = await memoryOfIdleChildren(50);
    if (memory === null) return; // an idle child: it is killed
    process.stdout.write(`${JSON.stringify(memory)}\n`);
    fs.rmSync(work, { recursive: true, force: true });
    return;
  }
  const rows: Array<[string, number | null]> = [];
  rows.push(['posix-fork: fork + _exit(0) + waitpid', posixForkRoundTrip(ROUNDS, 'exit')]);
  rows.push(['posix-fork: same, child calls pf._exit(0)', posixForkRoundTrip(ROUNDS, 'pf._exit')]);
  rows.push([
    'posix-fork: fork + process.exit(0) + waitpid',
    posixForkRoundTrip(ROUNDS, 'process.exit'),
  ]);
  const stats = native.memoryScanStats();
  const emptyScript = path.join(work, 'empty.js');
  fs.writeFileSync(emptyScript, '');
  rows.push([
    'child_process.fork(empty.js) until exit',
    await childProcessRoundTrip(Math.min(ROUNDS, 30), () =>
      cpFork(emptyScript, [], { stdio: 'ignore' }),
    ),
  ]);
  rows.push([
    "child_process.spawn('/bin/true') until exit",
    await childProcessRoundTrip(Math.min(ROUNDS, 300), () =>
      spawn('/bin/true', [], { stdio: 'ignore' }),
    ),
  ]);
  rows.push(['python3: os.fork + os._exit + os.waitpid', pythonRoundTrip(ROUNDS)]);
  rows.push(['C: fork + _exit + waitpid', cRoundTrip(ROUNDS * 4)]);
  const ours = rows[0][1] as number;
  console.log(
    `fork round trip, median of ${ROUNDS} (node ${process.version} ${process.execArgv.join(' ')}, ${os.cpus().length} cores)`,
  );
  for (const [name, ms] of rows) {
    if (ms === null) console.log(`  ${name.padEnd(48)} (not available)`);
    else
      console.log(
        `  ${name.padEnd(48)} ${ms.toFixed(3).padStart(8)} ms   ${(ms / ours).toFixed(2).padStart(7)} x posix-fork`,
      );
  }
  console.log(
    `  heap-area cache: ${stats.fullScans} full smaps scans, ${stats.mapsReads} maps reads, ${stats.cacheHits} cache hits, ${stats.unknownAreas} new areas`,
  );
  const part = spawnSync(process.execPath, [...process.execArgv, __filename, '--part', 'memory'], {
    encoding: 'utf8',
    timeout: 120000,
  });
  const memory = JSON.parse(part.stdout) as { forkedPss: number; cpPss: number };
  console.log('memory of 50 idle children (sum of PSS from /proc/<pid>/smaps_rollup)');
  console.log(`  posix-fork fork():        ${(memory.forkedPss / 1024).toFixed(1).padStart(8)} MB`);
  console.log(`  child_process.fork():     ${(memory.cpPss / 1024).toFixed(1).padStart(8)} MB`);
  console.log(
    `  ratio: posix-fork uses ${(memory.forkedPss / memory.cpPss).toFixed(3)} of child_process.fork's memory`,
  );
  fs.rmSync(work, { recursive: true, force: true });
}

void main();
