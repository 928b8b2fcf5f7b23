// Pool against its peers, measured in the same run: a CPU-bound map against the same map in one
// process; a map over a 100 MB table the function captures, against piscina and workerpool
// (which must be given the table: once per worker, as workerData); and Python's
// multiprocessing.Pool (fork) on trivial items and on the same table computation.
// Run: npm run bench:pool [-- --rounds 5]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Pool } from '../src';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const ROUNDS = option('rounds', 5);
const CORES = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
const CPU_ITEMS = 200;
const CPU_ITEM_MS = 5;
const TABLE_BYTES = 100 * 1024 * 1024;
const TABLE_LENGTH = TABLE_BYTES / 8;
const TABLE_ITEMS = 64;
const TRIVIAL_ITEMS = 100000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-bench-pool-'));

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

async function rounds(fn: () => Promise<unknown> | unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = now();
    await fn();
    times.push(now() - t0);
  }
  return median(times);
}

// ---------------------------------------------------------------------------------------
// CPU-bound items: a fixed number of steps of a linear congruential generator, about 5 ms.

function spin(seed: number, steps: number): number {
  let x = seed;
  for (let i = 0; i < steps; i++) x = (x * 1103515245 + 12345) % 2147483648;
  return x;
}

function calibrate(): number {
  let steps = 100000;
  spin(1, steps);
  for (;;) {
    const t0 = now();
    spin(1, steps);
    const ms = now() - t0;
    if (ms > 20) return Math.round((steps * CPU_ITEM_MS) / ms);
    steps *= 2;
  }
}

// ---------------------------------------------------------------------------------------
// The table: 100 MB of doubles. Each item sums the square roots of its 1/64th of it.

function makeTable(): Float64Array {
  const table = new Float64Array(TABLE_LENGTH);
  for (let i = 0; i < TABLE_LENGTH; i++) table[i] = (i % 1000) + 0.5;
  return table;
}

const TABLE_WORK = `(table, item, items) => {
  const size = Math.ceil(table.length / items);
  const end = Math.min(table.length, (item + 1) * size);
  let sum = 0;
  for (let i = item * size; i < end; i++) sum += Math.sqrt(table[i]);
  return sum;
}`;

const tableWork = eval(TABLE_WORK) as (table: Float64Array, item: number, items: number) => number;

function writePeerScripts(): { piscina: string; workerpool: string } {
  const piscina = path.join(work, 'piscina-worker.js');
  fs.writeFileSync(
    piscina,
    [
      "const { workerData } = require('worker_threads');",
      `const work = ${TABLE_WORK};`,
      'module.exports = (item) => work(workerData.table, item, workerData.items);',
    ].join('\n'),
  );
  const workerpool = path.join(work, 'workerpool-worker.js');
  fs.writeFileSync(
    workerpool,
    [
      `const workerpool = require(${JSON.stringify(require.resolve('workerpool'))});`,
      "const { workerData } = require('worker_threads');",
      `const work = ${TABLE_WORK};`,
      'workerpool.worker({ item: (item) => work(workerData.table, item, workerData.items) });',
    ].join('\n'),
  );
  return { piscina, workerpool };
}

// ---------------------------------------------------------------------------------------
// Memory: the proportional set size (shared pages split among their sharers) of this process
// and its children, sampled while a map holds its workers busy.

function pss(pid: number): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function childPids(): number[] {
  try {
    return fs
      .readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** The largest PSS of this process plus its children while `run` runs, minus the PSS before. */
async function extraMemory(run: () => Promise<unknown>): Promise<number | null> {
  if (process.platform !== 'linux') return null;
  const before = pss(process.pid);
  let peak = 0;
  const timer = setInterval(() => {
    const total = [process.pid, ...childPids()].reduce((sum, pid) => sum + pss(pid), 0);
    peak = Math.max(peak, total);
  }, 20);
  await run();
  clearInterval(timer);
  return peak - before;
}

// ---------------------------------------------------------------------------------------
// Python's multiprocessing.Pool with the fork start method, same computations.

interface PythonTimes {
  trivialMs: number;
  tableMs: number;
}

function python(): PythonTimes | null {
  const program = [
    'import array, json, math, multiprocessing as mp, sys, time',
    `ROUNDS, CORES, ITEMS, LENGTH, TRIVIAL = ${ROUNDS}, ${CORES}, ${TABLE_ITEMS}, ${TABLE_LENGTH}, ${TRIVIAL_ITEMS}`,
    'table = None',
    'def double(x):',
    '    return x * 2',
    'def work(item):',
    '    size = -(-len(table) // ITEMS)',
    '    view = memoryview(table)[item * size:min(len(table), (item + 1) * size)]',
    '    return sum(map(math.sqrt, view))',
    'def median(values):',
    '    return sorted(values)[len(values) // 2]',
    "if __name__ == '__main__':",
    "    ctx = mp.get_context('fork')",
    '    trivial = []',
    '    with ctx.Pool(CORES) as pool:',
    '        pool.map(double, range(100))',
    '        for _ in range(ROUNDS):',
    '            t = time.perf_counter()',
    '            pool.map(double, range(TRIVIAL))',
    '            trivial.append((time.perf_counter() - t) * 1000)',
    "    table = array.array('d', ((i % 1000) + 0.5 for i in range(LENGTH)))",
    '    tables = []',
    '    for _ in range(ROUNDS):',
    '        t = time.perf_counter()',
    '        with ctx.Pool(CORES) as pool:',
    '            pool.map(work, range(ITEMS))',
    '        tables.append((time.perf_counter() - t) * 1000)',
    '    print(json.dumps({"trivialMs": median(trivial), "tableMs": median(tables)}))',
  ].join('\n');
  const run = spawnSync('python3', ['-c', program], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (run.status !== 0 || run.error) return null;
  return JSON.parse(run.stdout) as PythonTimes;
}

// ---------------------------------------------------------------------------------------

interface Row {
  name: string;
  ms: number;
  note?: string;
}

async function main() {
  const version = spawnSync('python3', ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(
    `bench:pool — ${CORES} CPUs, Node ${process.version}, ${version || 'python3 not found'}, ` +
      `median of ${ROUNDS} rounds; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  console.log('');
  const rows: Row[] = [];
  const pool = new Pool({ processes: CORES });

  // 1. CPU-bound map.
  const steps = calibrate();
  const cpuItems = Array.from({ length: CPU_ITEMS }, (_, i) => i);
  const cpuFn = (i: number) => spin(i, steps);
  const serialCpu = await rounds(() => cpuItems.map(cpuFn));
  const poolCpu = await rounds(() => pool.map(cpuFn, cpuItems));
  rows.push({ name: `serial map, ${CPU_ITEMS} items of ~${CPU_ITEM_MS} ms`, ms: serialCpu });
  rows.push({ name: `Pool({ processes: ${CORES} }).map, same items`, ms: poolCpu });

  // 2. Trivial items: the cost per item of the machinery.
  const trivial = Array.from({ length: TRIVIAL_ITEMS }, (_, i) => i);
  await pool.map((x: number) => x * 2, trivial);
  const poolTrivial = await rounds(() => pool.map((x: number) => x * 2, trivial));
  rows.push({ name: `Pool.map, ${TRIVIAL_ITEMS} trivial items (x * 2)`, ms: poolTrivial });
  // What a call costs whatever its items: forking its workers and reaping them.
  const poolOne = await rounds(() => pool.map((x: number) => x * 2, [1]));
  rows.push({ name: 'Pool.map, 1 trivial item (the cost of a call by itself)', ms: poolOne });

  // 3. The table, end to end: pool made, every item's result back, pool gone.
  const table = makeTable();
  const tableItems = Array.from({ length: TABLE_ITEMS }, (_, i) => i);
  const scripts = writePeerScripts();
  const poolTable = await rounds(async () => {
    const p = new Pool({ processes: CORES });
    await p.map((item: number) => tableWork(table, item, TABLE_ITEMS), tableItems);
    await p.close();
  });
  const { Piscina } = require('piscina') as typeof import('piscina');
  const workerpool = require('workerpool') as typeof import('workerpool');
  const piscinaTable = await rounds(async () => {
    const p = new Piscina({
      filename: scripts.piscina,
      minThreads: CORES,
      maxThreads: CORES,
      workerData: { table, items: TABLE_ITEMS },
    });
    await Promise.all(tableItems.map((item) => p.run(item)));
    await p.destroy();
  });
  const workerpoolTable = await rounds(async () => {
    const p = workerpool.pool(scripts.workerpool, {
      maxWorkers: CORES,
      workerType: 'thread',
      workerThreadOpts: { workerData: { table, items: TABLE_ITEMS } },
    });
    await Promise.all(tableItems.map((item) => p.exec('item', [item])));
    await p.terminate();
  });
  const serialTable = await rounds(() =>
    tableItems.map((item) => tableWork(table, item, TABLE_ITEMS)),
  );
  rows.push({ name: `serial map over the 100 MB table (${TABLE_ITEMS} items)`, ms: serialTable });
  rows.push({ name: 'Pool: new, map over the table, close', ms: poolTable });
  rows.push({ name: 'piscina: new (table as workerData), run all, destroy', ms: piscinaTable });
  rows.push({
    name: 'workerpool: new (table as workerData), exec all, terminate',
    ms: workerpoolTable,
  });

  // Memory beyond the parent's own while the workers hold the table (items kept busy 300 ms).
  const hold = (item: number) => {
    const sum = tableWork(table, item, TABLE_ITEMS);
    Atomics.wait(sleepCell, 0, 0, 300);
    return sum;
  };
  const poolMemory = await extraMemory(async () => {
    const p = new Pool({ processes: CORES });
    await p.map(hold, tableItems.slice(0, CORES), { chunksize: 1 });
    await p.close();
  });
  const holdScript = path.join(work, 'piscina-hold.js');
  fs.writeFileSync(
    holdScript,
    fs
      .readFileSync(scripts.piscina, 'utf8')
      .replace(
        'module.exports = (item) => work(workerData.table, item, workerData.items);',
        'const cell = new Int32Array(new SharedArrayBuffer(4));\n' +
          'module.exports = (item) => { const s = work(workerData.table, item, workerData.items); ' +
          'Atomics.wait(cell, 0, 0, 300); return s; };',
      ),
  );
  const piscinaMemory = await extraMemory(async () => {
    const p = new Piscina({
      filename: holdScript,
      minThreads: CORES,
      maxThreads: CORES,
      workerData: { table, items: TABLE_ITEMS },
    });
    await Promise.all(tableItems.slice(0, CORES).map((item) => p.run(item)));
    await p.destroy();
  });

  const py = python();
  if (py) {
    rows.push({
      name: `Python Pool(${CORES}).map, ${TRIVIAL_ITEMS} trivial items (pool made before)`,
      ms: py.trivialMs,
    });
    rows.push({ name: 'Python: Pool made, map over the same table, closed', ms: py.tableMs });
  }

  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'what'.padEnd(width)}   median ms`);
  for (const row of rows)
    console.log(`${row.name.padEnd(width)}  ${row.ms.toFixed(1).padStart(10)}`);
  console.log('');
  const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  console.log(
    `CPU-bound: serial / Pool ${x(serialCpu, poolCpu)} (goal ≥ ${(0.9 * CORES).toFixed(1)}×, 0.9 × ${CORES} cores)`,
  );
  console.log(
    `table: piscina / Pool ${x(piscinaTable, poolTable)}, workerpool / Pool ${x(workerpoolTable, poolTable)} (goal ≥ 3×)`,
  );
  if (poolMemory !== null && piscinaMemory !== null) {
    const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
    console.log(
      `memory beyond the parent's while ${CORES} workers hold the table (PSS): Pool ${mb(poolMemory)}, ` +
        `piscina ${mb(piscinaMemory)}`,
    );
  }
  if (py) {
    const perItem = (ms: number) => `${((ms * 1000) / TRIVIAL_ITEMS).toFixed(2)} µs`;
    console.log(
      `per trivial item: Pool ${perItem(poolTrivial)}, Python ${perItem(py.trivialMs)} ` +
        `(Python / Pool ${x(py.trivialMs, poolTrivial)}, goal > 1×); ` +
        `Pool without the cost of a call ${perItem(poolTrivial - poolOne)}`,
    );
    console.log(`table end to end: Python / Pool ${x(py.tableMs, poolTable)} (goal > 1×)`);
  }
  await pool.close();
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
