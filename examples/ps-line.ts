// The examples' `ps -o stat,ppid,pid,cmd` line, from processInfo().
import { processInfo } from '../src';

/** One ps line for `pid` (STAT: the state, plus 's' for a session leader). */
export function psLine(pid: number, gone = 'no such process'): string {
  const info = processInfo(pid);
  if (info === null) return `-           ${String(pid).padStart(6)} (${gone})`;
  const stat = info.state + (info.pid === info.sid ? 's' : '');
  const cmd = info.state === 'Z' ? `[${info.command}] <defunct>` : info.command;
  const ids = `${String(info.ppid).padStart(6)} ${String(info.pid).padStart(6)}`;
  return `${stat.padEnd(4)} ${ids} ${cmd}`;
}
