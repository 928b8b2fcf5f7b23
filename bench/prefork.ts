// prefork() against node:cluster, side by side in one run, with the same app: an HTTP handler
// over a dataset of ~100 MB of JS objects loaded at start. Run: npm run bench:prefork
//   [-- --workers 2 --seconds 10 --connections 32 --items 260000 --read-once --semi-space MB]
// Measured: the time for N workers to accept (from the call that starts them: prefork(), or
// the first cluster.fork()), and from the process's spawn; total PSS of master + workers
// before and after the traffic, and each worker's private memory after it; requests/s with
// autocannon (keep-alive, 127.0.0.1) and each worker's share of requests and connections; the
// time from SIGKILL of a worker to its replacement accepting.
// node:cluster runs as it usually does (plain node, round-robin scheduling on Linux);
// prefork in the fork-safe mode it needs (--single-threaded). --semi-space MB starts both
// with --max-semi-space-size=MB.
import { ChildProcess, spawn } from 'child_process';
import cluster from 'cluster';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { FORK_SAFE_FLAGS } from '../src/forksafe';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? Number(process.argv[index + 1]) : fallback;
}
function textOption(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1] : undefined;
}

const WORKERS = option('workers', 2);
const SECONDS = option('seconds', 10);
const CONNECTIONS = option('connections', 32);
const ITEMS = option('items', 260000);
// The app reads its whole dataset once after loading it (JSON.stringify), in both modes.
const READ_ONCE = process.argv.includes('--read-once');
const SEMI_SPACE = option('semi-space', 0);
const V8_FLAGS = SEMI_SPACE > 0 ? [`--max-semi-space-size=${SEMI_SPACE}`] : [];
const REPLACEMENTS = 3;
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

// ---------------------------------------------------------------------------------------
// The app, the same for both.

interface Item {
  id: number;
  name: string;
  tags: string[];
  score: number;
  owner: { id: number; email: string };
}

function loadDataset(items: number): Item[] {
  const data: Item[] = [];
  for (let i = 0; i < items; i++) {
    data.push({
      id: i,
      name: `item-${i}-${((i * 2654435761) % 4294967296).toString(36)}`,
      tags: [`t${i % 17}`, `g${i % 101}`],
      score: ((i * 7919) % 1000) / 10,
      owner: { id: i % 5000, email: `user${i % 5000}@example.com` },
    });
  }
  // A string built by concatenation is flattened in place the first time it is read: after a
  // fork, that first read is a write to a shared page, i.e. a page copy.
  if (READ_ONCE) JSON.stringify(data);
  return data;
}

function handler(data: Item[]): http.RequestListener {
  let served = 0;
  let connections = 0;
  const seen = new WeakSet<object>();
  // The orchestrator asks each worker for its counts with SIGUSR1.
  process.on('SIGUSR1', () => {
    const line = `${process.pid} ${served} ${connections}\n`;
    fs.appendFileSync(process.env.BENCH_STATS as string, line);
  });
  return (req, res) => {
    served++;
    if (!seen.has(req.socket)) {
      seen.add(req.socket);
      connections++;
    }
    const item = data[(served * 7919) % data.length];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(item));
  };
}

function say(line: string): void {
  fs.writeSync(1, `${line}\n`);
}

function runPrefork(port: number): void {
  const { prefork } = require('../src') as typeof import('../src');
  const data = loadDataset(ITEMS);
  const start = now();
  const server = prefork({
    listen: { port, host: '127.0.0.1' },
    workers: WORKERS,
    serve: ({ listen }) => http.createServer(handler(data)).listen(listen),
  });
  server.on('worker', (worker) => say(`worker-ready ${worker.pid}`));
  server.ready.then(
    () => say(`all-ready ${(now() - start).toFixed(2)}`),
    (error) => {
      say(`failed ${String(error)}`);
      process.exit(1);
    },
  );
}

function runCluster(port: number): void {
  const primary = cluster;
  if (primary.isPrimary) {
    const start = now();
    let listening = 0;
    primary.on('listening', (worker) => {
      say(`worker-ready ${worker.process.pid}`);
      if (++listening === WORKERS) say(`all-ready ${(now() - start).toFixed(2)}`);
    });
    primary.on('exit', () => primary.fork());
    for (let i = 0; i < WORKERS; i++) primary.fork();
  } else {
    const data = loadDataset(ITEMS);
    http.createServer(handler(data)).listen(port, '127.0.0.1');
  }
}

// ---------------------------------------------------------------------------------------
// The orchestrator.

interface Server {
  child: ChildProcess;
  lines: string[];
  spawnedAt: number;
  next(pattern: RegExp, timeoutMs?: number): Promise<{ match: RegExpMatchArray; at: number }>;
}

function startServer(mode: string, port: number, stats: string): Server {
  const args = [
    ...(mode === 'prefork' ? FORK_SAFE_FLAGS : []),
    ...V8_FLAGS,
    __filename,
    '--role',
    mode,
    '--port',
    String(port),
    '--workers',
    String(WORKERS),
    '--items',
    String(ITEMS),
    ...(READ_ONCE ? ['--read-once'] : []),
  ];
  const spawnedAt = now();
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_STATS: stats },
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() as string;
    const at = now();
    for (const line of parts) lines.push(`${at} ${line}`);
    for (const waiter of [...waiters]) waiter();
  });
  let seen = 0;
  child.on('exit', () => {
    for (const waiter of [...waiters]) waiter();
  });
  return {
    child,
    lines,
    spawnedAt,
    // The next line (after the ones already taken) matching `pattern`.
    next(pattern, timeoutMs = 120000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (; seen < lines.length; seen++) {
            const [at, ...rest] = lines[seen].split(' ');
            const match = rest.join(' ').match(pattern);
            if (match) {
              seen++;
              waiters.splice(waiters.indexOf(check), 1);
              clearTimeout(timer);
              resolve({ match, at: Number(at) });
              return;
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            waiters.splice(waiters.indexOf(check), 1);
            clearTimeout(timer);
            reject(new Error(`${mode}: the server ended before ${pattern}`));
          }
        };
        const timer = setTimeout(
          () => reject(new Error(`${mode}: no ${pattern} in ${timeoutMs} ms`)),
          timeoutMs,
        );
        waiters.push(check);
        check();
      });
    },
  };
}

function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[1]) === pid && fields[0] !== 'Z';
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A field of /proc/<pid>/smaps_rollup, in kB. */
function rollupKb(pid: number, field: 'Pss' | 'Private_Dirty'): number {
  const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
}

/** PSS of `master` and its `workers`, in MB. */
function treePssMb(master: number, workers: number[]): number {
  return [master, ...workers].reduce((sum, pid) => sum + rollupKb(pid, 'Pss'), 0) / 1024;
}

/**
 * The memory each worker has to itself (Private_Dirty: written pages no other process maps),
 * mean of the workers, in MB: a cluster worker's whole heap, a forked worker's copies.
 */
function workerPrivateMb(workers: number[]): number {
  return (
    workers.reduce((sum, pid) => sum + rollupKb(pid, 'Private_Dirty'), 0) / 1024 / workers.length
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function load(port: number, seconds: number): Promise<number> {
  const autocannon = require('autocannon') as (
    options: object,
  ) => Promise<{ requests: { average: number }; non2xx: number; errors: number }>;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections: CONNECTIONS,
    duration: seconds,
  });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`errors ${result.errors}, non-2xx ${result.non2xx}`);
  return result.requests.average;
}

interface Result {
  workersStart: number;
  fromSpawn: number;
  pssBeforeMb: number;
  pssMb: number;
  workerPrivateMb: number;
  rps: number;
  share: number;
  connectionShare: number;
  replace: number;
}

async function measure(mode: string): Promise<Result> {
  const port = await freePort();
  const stats = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-bench-')), 'stats');
  const server = startServer(mode, port, stats);
  try {
    const ready = await server.next(/^all-ready ([\d.]+)/);
    const workersStart = Number(ready.match[1]);
    const fromSpawn = ready.at - server.spawnedAt;
    const master = server.child.pid as number;
    const pssBeforeMb = treePssMb(master, childrenOf(master));
    await load(port, 5); // warm-up: a fork child first writes to its copy-on-write pages
    fs.writeFileSync(stats, '');
    const rps = await load(port, SECONDS);
    const workers = childrenOf(master);
    for (const pid of workers) process.kill(pid, 'SIGUSR1');
    const deadline = Date.now() + 10000;
    while (
      fs.readFileSync(stats, 'utf8').trim().split('\n').filter(Boolean).length < workers.length &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = fs.readFileSync(stats, 'utf8').trim().split('\n');
    const spread = (field: number) => {
      const counts = lines.map((line) => Number(line.split(' ')[field]));
      return Math.max(...counts) / Math.max(1, Math.min(...counts));
    };
    const share = spread(1);
    const connectionShare = spread(2);
    const pssMb = treePssMb(master, workers);
    const privateMb = workerPrivateMb(workers);
    const replacements: number[] = [];
    for (let i = 0; i < REPLACEMENTS; i++) {
      const [victim] = childrenOf(master);
      const killedAt = now();
      process.kill(victim, 'SIGKILL');
      const { at } = await server.next(/^worker-ready (\d+)/);
      replacements.push(at - killedAt);
      await new Promise((r) => setTimeout(r, 500));
    }
    return {
      workersStart,
      fromSpawn,
      pssBeforeMb,
      pssMb,
      workerPrivateMb: privateMb,
      rps,
      share,
      connectionShare,
      replace: median(replacements),
    };
  } finally {
    try {
      process.kill(-(server.child.pid as number), 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

async function orchestrate(): Promise<void> {
  const loadBefore = os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  const clusterResult = await measure('cluster');
  const preforkResult = await measure('prefork');
  const loadAfter = os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
  const rows: Array<[string, (r: Result) => number, number, string]> = [
    [
      `${WORKERS} workers accepting, from the start call (ms)`,
      (r) => r.workersStart,
      2,
      '≥ 20× faster',
    ],
    [`${WORKERS} workers accepting, from process spawn (ms)`, (r) => r.fromSpawn, 0, ''],
    ['PSS, master + workers, before traffic (MB)', (r) => r.pssBeforeMb, 0, ''],
    ['PSS, master + workers, after traffic (MB)', (r) => r.pssMb, 0, '≤ 0.4×'],
    ['private memory per worker after traffic (MB)', (r) => r.workerPrivateMb, 0, ''],
    [
      `requests/s (autocannon -c ${CONNECTIONS}, ${SECONDS} s, keep-alive)`,
      (r) => r.rps,
      0,
      '≥ 1×',
    ],
    ['busiest / idlest worker, requests', (r) => r.share, 2, '≤ 1.5'],
    ['busiest / idlest worker, connections', (r) => r.connectionShare, 2, ''],
    [`SIGKILLed worker replaced, median of ${REPLACEMENTS} (ms)`, (r) => r.replace, 1, '≤ 1/20'],
  ];
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, ${ITEMS} items${READ_ONCE ? ' read once' : ''}${V8_FLAGS.map((f) => `, ${f}`).join('')}; load average ${loadBefore} -> ${loadAfter}`,
  );
  console.log('| | node:cluster | prefork | prefork / cluster | goal |');
  console.log('|---|---:|---:|---:|---|');
  for (const [name, get, digits, goal] of rows) {
    const c = get(clusterResult);
    const p = get(preforkResult);
    console.log(
      `| ${name} | ${c.toFixed(digits)} | ${p.toFixed(digits)} | ${(p / c).toFixed(3)} | ${goal} |`,
    );
  }
}

const role = textOption('role');
if (role === 'prefork') runPrefork(option('port', 0));
else if (role === 'cluster') runCluster(option('port', 0));
else {
  orchestrate().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
