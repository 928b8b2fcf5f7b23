// Stress for the SIGCHLD reaper: rounds of N children released to exit at the same moment.
// Per round it checks that every child was reaped with its exact exit code and that no zombie
// is left 1 s after the last exit; after all rounds, that no handle, fd or SIGCHLD watch leaked.
//
//   node --single-threaded dist/scripts/stress-reap.js [--children 1000] [--rounds 10]
//        [--scope own|all] [--json]
//
// The children exit together (scripts/gated-children.ts), and "last exit -> last 'exit' event"
// is measured against their own clock readings.
import { closeSync, readdirSync } from 'fs';
import { Reaper, WaitStatus, getpid, processInfo, reaperDiagnostics } from '../src';
import { openFds } from '../src/fds';
import { forkGatedChildren, readExitTimes } from './gated-children';

interface Options {
  children: number;
  rounds: number;
  scope: 'own' | 'all';
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { children: 1000, rounds: 10, scope: 'own', json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.json = true;
    else if (arg === '--children') options.children = Number(argv[++i]);
    else if (arg === '--rounds') options.rounds = Number(argv[++i]);
    else if (arg === '--scope') options.scope = argv[++i] === 'all' ? 'all' : 'own';
    else throw new Error(`unknown argument ${arg}`);
  }
  if (!(options.children >= 1 && options.rounds >= 1)) throw new Error('bad --children/--rounds');
  return options;
}

export interface RoundResult {
  children: number;
  reaped: number;
  missing: number;
  wrongCodes: number;
  zombiesAfter1s: number;
  forkMs: number;
  exitSpreadMs: number;
  lastExitToLastEventMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Linux: every zombie child of ours, from /proc. Elsewhere: the round's children, by pid.
function zombieChildren(parent: number, pids: Iterable<number>): number {
  let count = 0;
  const candidates =
    process.platform === 'linux'
      ? readdirSync('/proc')
          .filter((entry) => /^\d+$/.test(entry))
          .map(Number)
      : [...pids];
  for (const pid of candidates) {
    const info = processInfo(pid);
    if (info !== null && info.ppid === parent && info.state === 'Z') count++;
  }
  return count;
}

async function round(children: number, scope: 'own' | 'all'): Promise<RoundResult> {
  const reaper = new Reaper({ scope }).start();
  const exits = new Map<number, WaitStatus>();
  let lastEventNs = 0n;
  reaper.on('exit', (status) => {
    exits.set(status.pid, status);
    lastEventNs = process.hrtime.bigint();
  });
  const forkStart = process.hrtime.bigint();
  const { expected, gateWrite, timesRead } = forkGatedChildren(children);
  const forkMs = Number(process.hrtime.bigint() - forkStart) / 1e6;
  closeSync(gateWrite); // every child wakes up now
  const deadline = Date.now() + 30000;
  while (exits.size < children && Date.now() < deadline) await sleep(5);
  const { first, last } = readExitTimes(timesRead);
  let missing = 0;
  let wrongCodes = 0;
  for (const [pid, code] of expected) {
    const status = exits.get(pid);
    if (status === undefined) missing++;
    else if (status.exitCode !== code) wrongCodes++;
  }
  await sleep(1000);
  const zombiesAfter1s = zombieChildren(getpid(), expected.keys());
  reaper.stop();
  return {
    children,
    reaped: exits.size,
    missing,
    wrongCodes,
    zombiesAfter1s,
    forkMs,
    exitSpreadMs: Number(last - first) / 1e6,
    lastExitToLastEventMs: Number(lastEventNs - last) / 1e6,
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  // stdout/stderr handles are created lazily (fork() creates them): not leaks.
  void process.stdout;
  void process.stderr;
  const resourcesBefore = process.getActiveResourcesInfo().sort();
  const fdsBefore = openFds().length;
  const results: RoundResult[] = [];
  const started = Date.now();
  for (let r = 0; r < options.rounds; r++) {
    const result = await round(options.children, options.scope);
    results.push(result);
    if (!options.json) {
      console.log(
        `round ${r + 1}/${options.rounds}: reaped ${result.reaped}/${result.children}, ` +
          `missing ${result.missing}, wrong codes ${result.wrongCodes}, ` +
          `zombies 1 s after ${result.zombiesAfter1s}, fork ${result.forkMs.toFixed(0)} ms, ` +
          `exits spread over ${result.exitSpreadMs.toFixed(1)} ms, ` +
          `last exit -> last 'exit' ${result.lastExitToLastEventMs.toFixed(2)} ms`,
      );
    }
  }
  await sleep(50);
  const resourcesAfter = process.getActiveResourcesInfo().sort();
  const summary = {
    children: options.children,
    rounds: options.rounds,
    scope: options.scope,
    allReaped: results.every((r) => r.reaped === r.children && r.missing === 0),
    exactCodes: results.every((r) => r.wrongCodes === 0),
    zombiesLeft: results.reduce((n, r) => n + r.zombiesAfter1s, 0),
    resourcesBefore,
    resourcesAfter,
    handleLeak: JSON.stringify(resourcesBefore) !== JSON.stringify(resourcesAfter),
    fdsBefore,
    fdsAfter: openFds().length,
    sigchldWatch: reaperDiagnostics(),
    worstLastExitToLastEventMs: Math.max(...results.map((r) => r.lastExitToLastEventMs)),
    worstExitSpreadMs: Math.max(...results.map((r) => r.exitSpreadMs)),
    seconds: (Date.now() - started) / 1000,
  };
  if (options.json) {
    console.log(JSON.stringify({ summary, rounds: results }));
  } else {
    console.log(summary);
  }
  const ok =
    summary.allReaped &&
    summary.exactCodes &&
    summary.zombiesLeft === 0 &&
    !summary.handleLeak &&
    summary.fdsAfter === summary.fdsBefore &&
    !summary.sigchldWatch.watching;
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
