// What every demo uses: synchronous output (the demo and the example's processes write to the
// same stdout, line by line, in the order things happen), tagged lines, ps tables, small waits.
import { writeSync } from 'fs';
import { Style } from '../output';
import { formatTable, psRow } from '../ps';

const nap = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(nap, 0, 0, ms);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` every `everyMs` until true (resolves true) or `timeoutMs` passed (false). */
export async function until(
  predicate: () => boolean,
  timeoutMs = 5000,
  everyMs = 10,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (predicate()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Output of a demo. Every write is synchronous, so a child's lines are out before it exits. */
export class DemoOutput {
  constructor(
    readonly style: Style,
    /** Terminal width when stdout is a terminal: table lines are cut to fit. */
    readonly width: number | undefined,
  ) {}

  line(text = ''): void {
    writeAll(`${text}\n`);
  }

  title(name: string, summary: string): void {
    this.line(
      `${this.style.bold(this.style.cyan(`posix-fork demo ${name}`))} ${this.style.dim('—')} ` +
        `${summary}`,
    );
  }

  /** Explanation text, dimmed a little less than notes: plain lines. */
  explain(...lines: string[]): void {
    for (const text of lines) this.line(`  ${text}`);
    this.line();
  }

  /** A titled step of the demo. */
  step(text: string): void {
    this.line(this.style.bold(`» ${text}`));
  }

  /** A line said by the demo (the command's own process) or its clients, tagged `role pid │`. */
  say(role: 'demo' | 'client', text: string): void {
    const tag = `${role} ${process.pid}`.padEnd(18);
    const paint = role === 'demo' ? this.style.blue : this.style.yellow;
    this.line(`${paint(tag)}${this.style.dim('│')} ${text}`);
  }

  note(text: string): void {
    this.line(this.style.dim(`  ${text}`));
  }

  good(text: string): void {
    this.line(this.style.green(`  ✓ ${text}`));
  }

  /**
   * The live rows of `pids`, like `ps -o stat,ppid,pid,cmd -p <pids>`, written at once so that
   * lines other processes print cannot land inside the table.
   */
  table(caption: string, pids: readonly number[], notes?: ReadonlyMap<number, string>): void {
    const lines = [
      this.style.dim(`  ${caption}`),
      ...formatTable(pids, this.style, { notes, width: this.width, indent: '    ' }),
    ];
    writeAll(`${lines.join('\n')}\n`);
  }
}

/** The current state letter of `pid` (R, S, Z, …), or null once it is gone. */
export function stateOf(pid: number): string | null {
  return psRow(pid)?.stat[0] ?? null;
}

/** Ended: gone from the table, or a zombie waiting for its (new) parent. */
export function ended(pid: number): boolean {
  const state = stateOf(pid);
  return state === null || state === 'Z' || state === 'X';
}

function writeAll(text: string): void {
  const data = Buffer.from(text);
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(1, data, offset);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepSync(1);
        continue;
      }
      if (code === 'EPIPE') return; // the reader went away (| head): nothing to show anyone
      throw error;
    }
  }
}

/** Names this process in ps: `posix-fork demo NAME (ROLE)`; its comm becomes "posix-fork demo". */
export function nameProcess(demo: string, role?: string): void {
  try {
    process.title = `posix-fork demo ${demo}${role ? ` (${role})` : ''}`;
  } catch {
    // Some platforms refuse; the real command line is shown then.
  }
}
