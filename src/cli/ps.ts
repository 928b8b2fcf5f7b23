// The process-table rows the demos show: STAT PPID PID CMD, as `ps -o stat,ppid,pid,cmd`
// prints them. Linux: /proc/<pid>/stat and cmdline, read by proc.ts; elsewhere `ps` itself.
import { execFileSync } from 'child_process';
import { processInfo } from '../index';
import { ProcStat, commandLine, readStat } from '../proc';
import { Style } from './output';

export interface PsRow {
  /** As ps shows it: the state letter (R, S, Z, T, …) then <, N, s, l, + as they apply. */
  stat: string;
  ppid: number;
  pid: number;
  /** The command line; `[name] <defunct>` for a zombie, `[name]` when there is none. */
  cmd: string;
}

/** The row of `pid`, or null when it is not in the process table. */
export function psRow(pid: number): PsRow | null {
  return process.platform === 'linux' ? linuxRow(pid) : psCommandRow(pid);
}

function linuxRow(pid: number): PsRow | null {
  const stat = readStat(pid);
  if (stat === null) return null;
  const args = commandLine(pid) ?? [];
  let cmd = args.length > 0 ? args.join(' ') : `[${stat.comm}]`;
  if (stat.state === 'Z') cmd = `[${stat.comm}] <defunct>`;
  return { stat: psStat(stat), ppid: stat.ppid, pid, cmd };
}

/**
 * The STAT column as ps(1) prints it on Linux: the state letter, then < (raised priority) or
 * N (lowered), s (session leader), l (more than one thread), + (in its terminal's foreground
 * process group).
 */
export function psStat(stat: ProcStat): string {
  let text = stat.state;
  if (stat.nice < 0) text += '<';
  else if (stat.nice > 0) text += 'N';
  if (stat.sid === stat.pid) text += 's';
  if (stat.numThreads > 1) text += 'l';
  if (stat.ttyNr !== 0 && stat.tpgid === stat.pgid) text += '+';
  return text;
}

function psCommandRow(pid: number): PsRow | null {
  let line: string;
  try {
    line = execFileSync('ps', ['-o', 'stat=,ppid=,pid=,command=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null; // ps exits 1 when no process matches
  }
  const match = /^(\S+)\s+(\d+)\s+(\d+)\s*(.*)$/.exec(line);
  if (match === null) return null;
  return { stat: match[1], ppid: Number(match[2]), pid: Number(match[3]), cmd: match[4] };
}

/** The name of process `pid` (its comm), or null. */
export function processName(pid: number): string | null {
  try {
    return processInfo(pid)?.command ?? null;
  } catch {
    return null;
  }
}

export interface TableOptions {
  /** A note shown after the row of each pid (who it is, what to look at). */
  notes?: ReadonlyMap<number, string>;
  /** Cut CMD so each line fits this many columns (a terminal's width); none by default. */
  width?: number;
  indent?: string;
}

/**
 * The rows of `pids` as a table, with a line for each pid that is no longer in the process
 * table. Zombie rows are red, notes dim.
 */
export function formatTable(
  pids: readonly number[],
  style: Style,
  options: TableOptions = {},
): string[] {
  const indent = options.indent ?? '  ';
  const rows: Array<PsRow | number> = pids.map((pid) => psRow(pid) ?? pid);
  const present = rows.filter((row): row is PsRow => typeof row !== 'number');
  const statWidth = Math.max(4, ...present.map((row) => row.stat.length));
  const ppidWidth = Math.max(5, ...present.map((row) => String(row.ppid).length));
  const pidWidth = Math.max(5, ...present.map((row) => String(row.pid).length));
  const lines = [
    style.bold(
      `${indent}${'STAT'.padEnd(statWidth)} ${'PPID'.padStart(ppidWidth)} ` +
        `${'PID'.padStart(pidWidth)}  CMD`,
    ),
  ];
  const noteWidth = Math.max(
    0,
    ...present.map((row) => {
      const note = options.notes?.get(row.pid);
      return note ? note.length + 2 : 0;
    }),
  );
  const headWidth = indent.length + statWidth + ppidWidth + pidWidth + 4;
  let cmdWidth = Math.max(0, ...present.map((row) => row.cmd.length));
  if (options.width !== undefined) {
    cmdWidth = Math.min(cmdWidth, Math.max(32, options.width - headWidth - noteWidth - 1));
  }
  for (const row of rows) {
    if (typeof row === 'number') {
      lines.push(style.dim(`${indent}(pid ${row} is no longer in the process table)`));
      continue;
    }
    const note = options.notes?.get(row.pid);
    const head =
      `${indent}${row.stat.padEnd(statWidth)} ${String(row.ppid).padStart(ppidWidth)} ` +
      `${String(row.pid).padStart(pidWidth)}  `;
    let cmd = row.cmd;
    if (cmd.length > cmdWidth) cmd = cmdWidth > 1 ? `${cmd.slice(0, cmdWidth - 1)}…` : '';
    const body = note ? `${head}${cmd.padEnd(cmdWidth)}` : `${head}${cmd}`;
    const zombie = row.stat.startsWith('Z');
    lines.push((zombie ? style.red(body) : body) + (note ? style.dim(`  ${note}`) : ''));
  }
  return lines;
}
