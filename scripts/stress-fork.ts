// Stress for fork(): a parent holding 300k live objects and allocating continuously forks
// children in a row; each child allocates through several GCs, awaits a timer and an fs read,
// then ends by one of the exit paths (rotating). Counts clean exits (exact expected status),
// hangs (killed after --hang-ms) and crashes (any other status).
//
//   node --single-threaded dist/scripts/stress-fork.js [--children 10000] [--concurrency 4]
//        [--hang-ms 10000] [--json] [--progress]
import * as fs from 'fs';
import { FORK_SAFE_FLAGS, _exit, dup2, fork, isForkSafe, waitpid, WNOHANG } from '../src';
import type { WaitStatus } from '../src';

interface ExitPath {
  name: string;
  run(): void;
  expected(status: WaitStatus): boolean;
}

const EXIT_PATHS: ExitPath[] = [
  { name: 'process.exit(3)', run: () => process.exit(3), expected: (s) => s.exitCode === 3 },
  {
    name: 'exitCode=4 + natural end',
    run: () => {
      process.exitCode = 4;
    },
    expected: (s) => s.exitCode === 4,
  },
  { name: 'natural end', run: () => undefined, expected: (s) => s.exitCode === 0 },
  {
    name: 'uncaught exception',
    run: () => {
      throw new Error('stress: uncaught in child');
    },
    expected: (s) => s.exitCode === 1,
  },
  {
    name: 'SIGTERM',
    run: () => {
      process.kill(process.pid, 'SIGTERM');
      setTimeout(() => undefined, 60000);
    },
    expected: (s) => s.signal === 'SIGTERM',
  },
];

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const CHILDREN = option('children', 10000);
const CONCURRENCY = option('concurrency', 4);
const HANG_MS = option('hang-ms', 10000);
const JSON_OUTPUT = process.argv.includes('--json');
const PROGRESS = process.argv.includes('--progress');

// ≥ 300k live objects, partly replaced all the time, plus short-lived garbage.
const live: Array<{ id: number; text: string; next: unknown }> = [];
for (let i = 0; i < 300000; i++) live.push({ id: i, text: `object ${i}`, next: null });
let churnRound = 0;
const churn = setInterval(() => {
  churnRound++;
  for (let i = 0; i < 2000; i++) {
    const slot = (churnRound * 2000 + i) % live.length;
    live[slot] = { id: slot, text: `replaced ${churnRound}`, next: { round: churnRound } };
  }
  let garbage: unknown[] = [];
  for (let i = 0; i < 20000; i++) garbage.push({ i, s: `g${i}` });
  garbage = [];
}, 1);

async function childMain(path: ExitPath): Promise<void> {
  clearInterval(churn); // inherited from the parent: carried over like every timer
  const devNull = fs.openSync('/dev/null', 'w');
  dup2(devNull, 2); // the uncaught-exception path prints; keep the run's output readable
  fs.closeSync(devNull);
  // Enough short-lived arrays (about 38 MB) that the child's young generation is collected several times.
  let keep: number[][] = [];
  for (let round = 0; round < 4; round++) {
    keep = [];
    for (let i = 0; i < 150; i++) keep.push(new Array<number>(8000).fill(i));
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
  const text = await fs.promises.readFile(__filename, 'utf8');
  if (text.length === 0 || keep.length !== 150) _exit(99);
  path.run();
}

interface Running {
  path: ExitPath;
  started: number;
  killed: boolean;
}

async function main(): Promise<void> {
  const running = new Map<number, Running>();
  const counts = { clean: 0, hangs: 0, crashes: 0 };
  const crashes: Record<string, number> = {};
  const started = Date.now();
  let forked = 0;
  while (forked < CHILDREN || running.size > 0) {
    while (forked < CHILDREN && running.size < CONCURRENCY) {
      const path = EXIT_PATHS[forked % EXIT_PATHS.length];
      forked++;
      const pid = fork();
      if (pid === 0) {
        void childMain(path);
        return;
      }
      running.set(pid, { path, started: Date.now(), killed: false });
    }
    for (const [pid, child] of running) {
      const status = waitpid(pid, WNOHANG);
      if (status === null) {
        if (!child.killed && Date.now() - child.started > HANG_MS) {
          process.kill(pid, 'SIGKILL');
          child.killed = true;
        }
        continue;
      }
      running.delete(pid);
      const done = counts.clean + counts.hangs + counts.crashes + 1;
      if (PROGRESS && done % 500 === 0) {
        process.stderr.write(
          `${done} done: ${counts.clean} clean, ${counts.hangs} hangs, ${counts.crashes} crashes\n`,
        );
      }
      if (child.killed) counts.hangs++;
      else if (child.path.expected(status)) counts.clean++;
      else {
        counts.crashes++;
        const key = `${child.path.name} -> ${status.signal ?? `exit ${status.exitCode}`}`;
        crashes[key] = (crashes[key] ?? 0) + 1;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  clearInterval(churn);
  const seconds = (Date.now() - started) / 1000;
  const result = {
    mode: isForkSafe() ? `fork-safe (${FORK_SAFE_FLAGS.join(' ')})` : 'default',
    node: process.version,
    children: CHILDREN,
    liveObjects: live.length,
    ...counts,
    crashKinds: crashes,
    seconds,
  };
  if (JSON_OUTPUT) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    console.log(`mode: ${result.mode}, node ${result.node}`);
    console.log(`children: ${CHILDREN} (parent holds ${live.length} live objects, allocating)`);
    console.log(`clean exits with the exact expected status: ${counts.clean}`);
    console.log(`hangs (killed after ${HANG_MS} ms): ${counts.hangs}`);
    console.log(`crashes (any other status): ${counts.crashes}`, crashes);
    console.log(`time: ${seconds.toFixed(1)} s`);
  }
  process.exitCode = counts.hangs + counts.crashes === 0 ? 0 : 1;
}

void main();
