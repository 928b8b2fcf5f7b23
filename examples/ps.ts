// What `ps -o stat,ppid,pid,comm -p PIDS` shows, from processInfo(), for the examples to print
// at the moments that matter. `posix-fork demo` runs the examples with its own, coloured
// version of showProcesses() in place of this one.
import { processInfo } from 'posix-fork';

/** Prints `caption`, then one row per pid: its state, parent, pid and name, or that it is gone. */
export function showProcesses(caption: string, pids: readonly number[]): void {
  const rows = [`  ${caption}`, '    STAT   PPID    PID  CMD'];
  for (const pid of pids) {
    const info = processInfo(pid);
    if (info === null) {
      rows.push(`    (pid ${pid} is no longer in the process table)`);
      continue;
    }
    // 's' marks a session leader, as in ps; a zombie keeps only its name.
    const stat = info.state + (info.pid === info.sid ? 's' : '');
    const cmd = info.state === 'Z' ? `[${info.command}] <defunct>` : info.command;
    rows.push(
      `    ${stat.padEnd(4)} ${String(info.ppid).padStart(6)} ${String(pid).padStart(6)}  ${cmd}`,
    );
  }
  console.log(rows.join('\n'));
}
