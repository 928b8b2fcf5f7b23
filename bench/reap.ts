// How fast the SIGCHLD reaper collects a burst of exits, next to Python's classic reaper
// (signal.signal(SIGCHLD, handler) looping os.waitpid(-1, WNOHANG)) in the same run.
//
//   node --single-threaded dist/bench/reap.js [--children 1000] [--runs 3] [--json]
//
// Each run forks N children that block on a shared pipe; closing the write end releases them
// all at once. Every child writes its CLOCK_MONOTONIC time just before _exit (Node's
// process.hrtime and Python's time.monotonic_ns read the same clock), so the figure is
// "last child's exit -> last reaped status reported", in each runtime's own terms: the last
// Reaper 'exit' event in Node, the last waitpid() return inside the handler in Python.
// Forking is not timed. Node children are larger processes than Python's, so their own
// _exit takes longer; that part happens after the timestamp and counts against Node.
import { execFileSync } from 'child_process';
import { closeSync } from 'fs';
import { Reaper, wait } from '../src';
import { forkGatedChildren, readExitTimes } from '../scripts/gated-children';

interface RunResult {
  reaped: number;
  wrongCodes: number;
  exitSpreadMs: number;
  lastExitToLastEventMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function nodeRun(children: number, scope: 'own' | 'all'): Promise<RunResult> {
  const reaper = new Reaper({ scope }).start();
  const codes = new Map<number, number | null>();
  let lastEventNs = 0n;
  reaper.on('exit', (status) => {
    codes.set(status.pid, status.exitCode);
    lastEventNs = process.hrtime.bigint();
  });
  const { expected, gateWrite, timesRead } = forkGatedChildren(children);
  await sleep(200); // let the fork burst settle before the clock matters
  closeSync(gateWrite);
  const deadline = Date.now() + 60000;
  while (codes.size < children && Date.now() < deadline) await sleep(2);
  reaper.stop();
  const { first, last } = readExitTimes(timesRead);
  let wrongCodes = 0;
  for (const [pid, code] of expected) if (codes.get(pid) !== code) wrongCodes++;
  return {
    reaped: codes.size,
    wrongCodes,
    exitSpreadMs: Number(last - first) / 1e6,
    lastExitToLastEventMs: Number(lastEventNs - last) / 1e6,
  };
}

// Not a reaper: the parent blocks in wait() (no event loop), so each status is taken the
// moment the kernel has it. What remains is the children's own exit (a Node child tears down a
// large address space). A Reaper row close to this row means the reaper adds little.
function nodeBlockingFloor(children: number): RunResult {
  const { expected, gateWrite, timesRead } = forkGatedChildren(children);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  closeSync(gateWrite);
  let lastNs = 0n;
  let wrongCodes = 0;
  for (let i = 0; i < children; i++) {
    const status = wait();
    lastNs = process.hrtime.bigint();
    if (status.exitCode !== expected.get(status.pid)) wrongCodes++;
  }
  const { first, last } = readExitTimes(timesRead);
  return {
    reaped: children,
    wrongCodes,
    exitSpreadMs: Number(last - first) / 1e6,
    lastExitToLastEventMs: Number(lastNs - last) / 1e6,
  };
}

// The classic recipe (a SIGCHLD handler looping waitpid(-1, WNOHANG)), measured the same way.
const PYTHON_REAPER = String.raw`
import json, os, signal, sys, time
N = int(sys.argv[1])
codes = {}
last_event = [0]
def reap(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        codes[pid] = os.waitstatus_to_exitcode(status)
        last_event[0] = time.monotonic_ns()
signal.signal(signal.SIGCHLD, reap)
gate_r, gate_w = os.pipe()
times_r, times_w = os.pipe()
expected = {}
for i in range(N):
    pid = os.fork()
    if pid == 0:
        os.close(gate_w); os.close(times_r)
        os.read(gate_r, 1)
        os.write(times_w, b"%d\n" % time.monotonic_ns())
        os._exit(i % 255 + 1)
    expected[pid] = i % 255 + 1
os.close(gate_r); os.close(times_w)
time.sleep(0.2)
os.close(gate_w)
deadline = time.monotonic() + 60
while len(codes) < N and time.monotonic() < deadline:
    time.sleep(0.002)
data = b""
while True:
    chunk = os.read(times_r, 65536)
    if not chunk:
        break
    data += chunk
times = [int(x) for x in data.split()]
wrong = sum(1 for pid, code in expected.items() if codes.get(pid) != code)
print(json.dumps({"reaped": len(codes), "wrongCodes": wrong,
    "exitSpreadMs": (max(times) - min(times)) / 1e6,
    "lastExitToLastEventMs": (last_event[0] - max(times)) / 1e6}))
`;

function pythonRun(children: number): RunResult | null {
  try {
    const out = execFileSync('python3', ['-c', PYTHON_REAPER, String(children)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 120000,
    });
    return JSON.parse(out.trim()) as RunResult;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function parseArgs(argv: string[]): { children: number; runs: number; json: boolean } {
  const options = { children: 1000, runs: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--children') options.children = Number(argv[++i]);
    else if (argv[i] === '--runs') options.runs = Number(argv[++i]);
    else if (argv[i] === '--json') options.json = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return options;
}

async function main(): Promise<void> {
  const { children, runs, json } = parseArgs(process.argv.slice(2));
  const results: Record<string, RunResult[]> = {
    'node own': [],
    'node all': [],
    'node wait() floor': [],
    python: [],
  };
  for (let r = 0; r < runs; r++) {
    // Interleaved, so a busy moment of the machine hits every contestant alike.
    results['node own'].push(await nodeRun(children, 'own'));
    results['node all'].push(await nodeRun(children, 'all'));
    results['node wait() floor'].push(nodeBlockingFloor(children));
    const python = pythonRun(children);
    if (python !== null) results.python.push(python);
  }
  const rows = Object.entries(results)
    .filter(([, list]) => list.length > 0)
    .map(([name, list]) => ({
      name,
      medianMs: median(list.map((r) => r.lastExitToLastEventMs)),
      runsMs: list.map((r) => Number(r.lastExitToLastEventMs.toFixed(2))),
      exitSpreadMs: median(list.map((r) => r.exitSpreadMs)),
      allReaped: list.every((r) => r.reaped === children && r.wrongCodes === 0),
    }));
  const python = rows.find((row) => row.name === 'python');
  const ratios = python
    ? Object.fromEntries(
        rows
          .filter((row) => row !== python)
          .map((row) => [row.name, row.medianMs / python.medianMs]),
      )
    : null;
  if (json) {
    console.log(JSON.stringify({ children, runs, rows, ratiosToPython: ratios }));
    return;
  }
  console.log(`reap ${children} children exiting together: last exit -> last reaped status`);
  for (const row of rows) {
    console.log(
      `  ${row.name.padEnd(17)} median ${row.medianMs.toFixed(2).padStart(8)} ms  ` +
        `runs [${row.runsMs.join(', ')}]  exits spread ${row.exitSpreadMs.toFixed(1)} ms  ` +
        `all reaped, exact codes: ${row.allReaped}`,
    );
  }
  if (ratios === null) {
    console.log('  python3 not found: no peer measured');
  } else {
    for (const [name, ratio] of Object.entries(ratios)) {
      console.log(`  ratio ${name} / python: ${ratio.toFixed(2)} (lower is faster)`);
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
