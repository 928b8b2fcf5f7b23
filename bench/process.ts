// start -> target runs -> join, for short targets, with Process against child_process.fork of an
// equivalent script and Python's multiprocessing.Process (fork start method), measured in the
// same run. Run: npm run bench:process [-- --rounds 100]
import { fork as cpFork, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Process, _exit, fork, waitpid } from '../src';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const ROUNDS = option('rounds', 100);
const WARMUP = 5;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-bench-process-'));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
};
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const now = () => Number(process.hrtime.bigint()) / 1e6;

interface Row {
  name: string;
  median: number;
  total: number;
}

// The short target: double a number and hand it back.
const double = (i: number) => i * 2;

// Process round trips, each followed by the floor under it (a bare fork(), _exit(0) in the
// child, a blocking waitpid()), interleaved so that both see the same machine load.
async function processSerial(rounds: number): Promise<[Row, Row]> {
  const times: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < rounds + WARMUP; i++) {
    let t0 = now();
    const p = new Process({ target: double, args: [i] });
    p.start();
    await p.join();
    if (p.result !== i * 2) throw new Error(`wrong result ${String(p.result)}`);
    if (i >= WARMUP) times.push(now() - t0);
    t0 = now();
    const pid = fork();
    if (pid === 0) _exit(0);
    waitpid(pid);
    if (i >= WARMUP) floor.push(now() - t0);
  }
  return [
    { name: 'Process: start + join, one at a time', median: median(times), total: sum(times) },
    {
      name: '(floor) fork + _exit(0) + waitpid, no Process',
      median: median(floor),
      total: sum(floor),
    },
  ];
}

async function processStartAllJoinAll(rounds: number): Promise<Row> {
  const t0 = now();
  const list = Array.from({ length: rounds }, (_, i) => new Process({ target: double, args: [i] }));
  for (const p of list) p.start();
  for (const p of list) await p.join();
  const total = now() - t0;
  list.forEach((p, i) => {
    if (p.result !== i * 2) throw new Error('wrong result');
  });
  return { name: 'Process: start all, then join all (total / N)', median: total / rounds, total };
}

async function childProcessSerial(rounds: number): Promise<Row> {
  const script = path.join(work, 'double.js');
  fs.writeFileSync(script, 'process.send(Number(process.argv[2]) * 2, () => process.exit(0));\n');
  const times: number[] = [];
  for (let i = 0; i < rounds + WARMUP; i++) {
    const t0 = now();
    const result = await new Promise<number>((resolve, reject) => {
      let value: number | undefined;
      const child = cpFork(script, [String(i)], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      child.on('message', (message) => (value = message as number));
      child.on('error', reject);
      child.on('exit', () => resolve(value as number));
    });
    if (result !== i * 2) throw new Error(`wrong result ${result}`);
    if (i >= WARMUP) times.push(now() - t0);
  }
  return {
    name: 'child_process.fork(script) + message + exit',
    median: median(times),
    total: sum(times),
  };
}

function python(rounds: number): [Row, Row] | null {
  const program = [
    'import json, multiprocessing as mp, time',
    'def double(i):',
    '    return i * 2',
    "if __name__ == '__main__':",
    "    ctx = mp.get_context('fork')",
    '    times = []',
    `    for i in range(${rounds} + ${WARMUP}):`,
    '        t = time.perf_counter()',
    '        p = ctx.Process(target=double, args=(i,))',
    '        p.start()',
    '        p.join()',
    '        assert p.exitcode == 0',
    `        if i >= ${WARMUP}: times.append((time.perf_counter() - t) * 1000)`,
    '    t = time.perf_counter()',
    `    ps = [ctx.Process(target=double, args=(i,)) for i in range(${rounds})]`,
    '    [p.start() for p in ps]',
    '    [p.join() for p in ps]',
    '    batch = (time.perf_counter() - t) * 1000',
    '    print(json.dumps({"times": times, "batch": batch}))',
  ].join('\n');
  const run = spawnSync('python3', ['-c', program], { encoding: 'utf8' });
  if (run.status !== 0 || run.error) return null;
  const { times, batch } = JSON.parse(run.stdout) as { times: number[]; batch: number };
  return [
    {
      name: 'Python multiprocessing.Process (fork): start + join',
      median: median(times),
      total: sum(times),
    },
    { name: 'Python: start all, then join all (total / N)', median: batch / rounds, total: batch },
  ];
}

async function main() {
  const [ours, floor] = await processSerial(ROUNDS);
  const batch = await processStartAllJoinAll(ROUNDS);
  const cp = await childProcessSerial(ROUNDS);
  const py = python(ROUNDS);
  const version = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  console.log(
    `bench:process — ${ROUNDS} short targets (i -> i * 2), ${os.cpus().length} CPUs, ` +
      `Node ${process.version}${py ? `, ${version.stdout.trim()}` : ', python3 not found'}`,
  );
  console.log('');
  const rows = [ours, batch, cp, ...(py ?? []), floor];
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'what'.padEnd(width)}  median ms   total ms`);
  for (const row of rows) {
    console.log(
      `${row.name.padEnd(width)}  ${row.median.toFixed(3).padStart(9)}  ${row.total.toFixed(1).padStart(9)}`,
    );
  }
  console.log('');
  const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}×`;
  console.log(
    `child_process.fork / Process (median): ${ratio(cp.median, ours.median)}  (goal ≥ 30×)`,
  );
  console.log(
    `Process / bare fork round trip (median): ${ratio(ours.median, floor.median)}  (what Process adds)`,
  );
  if (py) {
    console.log(
      `Python / Process, one at a time (median): ${ratio(py[0].median, ours.median)}  (goal > 1×)`,
    );
    console.log(`Python / Process, start all then join all: ${ratio(py[1].total, batch.total)}`);
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  if ((error as { code?: string }).code === 'ERR_PROCESS_CHILD_UNWIND') throw error;
  console.error(error);
  process.exitCode = 1;
});
