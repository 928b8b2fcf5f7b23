// A demo runs one program of examples/, unchanged, in a child of the command, and draws the
// process table live around it: the examples print their tables with showProcesses()
// (examples/ps.ts), which the demo replaces with its own (colours, notes), and it records
// every pid shown, so that at the end it can check that none of them still runs.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { WaitStatus, fork, waitFor } from '../../index';
import { describeEnd } from '../../status';
import { processName, psRow } from '../ps';
import { DemoOutput, ended, nameProcess, until } from './context';

/** Where the compiled examples are: dist/examples, beside dist/src. */
export const EXAMPLES = path.join(__dirname, '..', '..', '..', 'examples');

export interface DemoSpec {
  name: string;
  summary: string;
  explain: string[];
  /** The program: examples/<example>.ts, run as dist/examples/<example>.js. */
  example: string;
  /** Its command-line arguments; `workDir` is a directory the demo removes at its end. */
  args?(workDir: string): string[] | Promise<string[]>;
  /**
   * What the demo does while the example runs (by default: waits for it to exit). Resolves
   * with any pid the example started without showing it, to be checked at the end too.
   */
  drive?(run: ExampleRun, out: DemoOutput): Promise<number[] | void>;
}

export interface ExampleRun {
  /** The example's process, a child of the demo. */
  pid: number;
  args: string[];
  exited: Promise<WaitStatus>;
}

export async function runDemo(demo: DemoSpec, out: DemoOutput): Promise<void> {
  out.title(demo.name, demo.summary);
  out.explain(...demo.explain);
  nameProcess(demo.name);
  const workDir = mkdtempSync(path.join(os.tmpdir(), `posix-fork-demo-${demo.name}-`));
  const shownFile = path.join(workDir, 'shown-pids');
  try {
    const args = (await demo.args?.(workDir)) ?? [];
    out.step(`examples/${demo.example}.ts ${args.join(' ')}`.trim());
    const demoPid = process.pid;
    const pid = fork();
    if (pid === 0) {
      runExample(demo.example, args, { out, demoPid, shownFile });
      await new Promise(() => {}); // the example's own code ends this process, not the demo's
    }
    const run: ExampleRun = { pid, args, exited: waitFor(pid) };
    const unshown = (await demo.drive?.(run, out)) ?? [];
    const status = await run.exited;
    if (status.exitCode !== 0) {
      throw new Error(`examples/${demo.example}.ts ended with ${describeEnd(status)}`);
    }
    await checkNothingLeft([pid, ...shownPids(shownFile), ...unshown], out);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

interface View {
  out: DemoOutput;
  demoPid: number;
  shownFile: string;
}

/** In the demo's child: the example, as `node dist/examples/<name>.js ...args` would run it. */
function runExample(name: string, args: string[], view: View): void {
  const file = path.join(EXAMPLES, `${name}.js`);
  process.argv = [process.argv[0], file, ...args];
  const ps = require(path.join(EXAMPLES, 'ps.js')) as {
    showProcesses(caption: string, pids: readonly number[]): void;
  };
  ps.showProcesses = (caption, pids) => showProcesses(caption, pids, view);
  try {
    require(file);
  } catch (error) {
    // Thrown at the example's top level: uncaught, as it would be without the demo.
    process.nextTick(() => {
      throw error;
    });
  }
}

/** The demo's version of examples/ps.ts showProcesses(). */
function showProcesses(caption: string, pids: readonly number[], view: View): void {
  appendFileSync(view.shownFile, `${pids.join(' ')}\n`);
  const notes = new Map<number, string>();
  for (const pid of pids) {
    const row = psRow(pid);
    if (row === null) continue;
    if (row.stat.startsWith('Z')) notes.set(pid, '← zombie: ended, its status not read yet');
    else if (row.ppid === view.demoPid) notes.set(pid, '← the example');
    else if (pids.includes(row.ppid)) notes.set(pid, `← child of ${row.ppid}`);
    else notes.set(pid, `← adopted by ${row.ppid} (${processName(row.ppid) ?? '?'})`);
  }
  view.out.table(caption, pids, notes);
}

function shownPids(file: string): number[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // the example showed no table
  }
  return [...new Set(text.split(/\s+/).filter(Boolean).map(Number))];
}

/**
 * Every process the example showed has ended (orphans are reaped by their adopter, which may
 * be slow: a zombie counts as ended); one still running is killed and the demo fails.
 */
async function checkNothingLeft(pids: number[], out: DemoOutput): Promise<void> {
  await until(() => pids.every(ended), 5000);
  const running = pids.filter((pid) => !ended(pid));
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  if (running.length > 0)
    throw new Error(`still running after the example: ${running.join(', ')} (killed)`);
  out.good('every process the example started has ended: nothing left behind');
}
