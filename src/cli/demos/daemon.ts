// The daemon demo: examples/daemon.ts makes a daemon by the classic double fork; once its
// launcher has exited, the demo shows the daemon (parent, session, terminal, cwd, umask) and
// stops it through its pidfile.
import { existsSync, readFileSync, readlinkSync, unlinkSync } from 'fs';
import * as path from 'path';
import { getsid, processInfo } from '../../index';
import { parseRecord } from '../../pidfile/record';
import { processName, psRow } from '../ps';
import { DemoOutput, ended, stateOf, until } from './context';
import { DemoSpec, ExampleRun } from './run';

export const daemonDemo: DemoSpec = {
  name: 'daemon',
  summary: 'the double fork, step by step, and the pidfile',
  explain: [
    'A daemon runs in the background, with no terminal and no parent waiting on it. The classic',
    'recipe forks twice: the first child starts a new session (no controlling terminal), the',
    'second fork leaves a process that is not a session leader, so it can never get one again.',
    'The library does all of this (and more) in daemonize(); the example takes the steps one by one.',
  ],
  example: 'daemon',
  args: (workDir) => ['--pid-file', path.join(workDir, 'daemon.pid'), '--seconds', '60'],
  drive: showAndStop,
};

async function showAndStop(run: ExampleRun, out: DemoOutput): Promise<number[]> {
  const pidFile = run.args[1];
  const launcher = await run.exited;
  out.say('demo', `the launcher ${run.pid} exited (code ${launcher.exitCode})`);
  const daemon = await waitForPid(pidFile);
  // Adopted once the first child (its session's leader) has exited.
  await until(() => psRow(daemon)?.ppid !== sessionOf(daemon), 2000);
  const adopter = psRow(daemon)?.ppid ?? 0;
  out.line();
  out.table(
    `the daemon, pid ${daemon} from ${pidFile}:`,
    [daemon],
    new Map([[daemon, `← the daemon: parent ${adopter} (${processName(adopter) ?? '?'})`]]),
  );
  out.note(
    `session ${sessionOf(daemon) ?? '?'}: started by the first child, now gone; no "s" in STAT: ` +
      'the daemon is not its leader',
  );
  out.note(`terminal: ${terminalOf(daemon)} · cwd: ${cwdOf(daemon)} · umask: ${umaskOf(daemon)}`);
  out.line();
  out.step(`cleanup: kill -TERM $(cat ${pidFile})`);
  process.kill(daemon, 'SIGTERM');
  const stopped = await until(() => ended(daemon), 5000);
  if (!stopped) {
    process.kill(daemon, 'SIGKILL');
    await until(() => ended(daemon), 2000);
  }
  const removed = await until(() => !existsSync(pidFile), 1000);
  if (!removed) unlinkSync(pidFile);
  out.good(
    `daemon ${daemon} ${stopped ? 'ended on SIGTERM' : 'killed'}; ` +
      `${removed ? 'its exit handler removed the pidfile' : 'pidfile removed by the demo'}`,
  );
  if (!(await until(() => stateOf(daemon) === null, 3000, 20))) {
    out.note(
      `pid ${daemon} is a zombie until its new parent ${adopter} reaps it (that process is slow to reap)`,
    );
  }
  return [daemon];
}

async function waitForPid(pidFile: string): Promise<number> {
  let pid: number | null = null;
  await until(() => (pid = readPid(pidFile)) !== null, 5000);
  if (pid === null) throw new Error(`the daemon did not write ${pidFile}`);
  return pid;
}

function readPid(file: string): number | null {
  try {
    return parseRecord(readFileSync(file, 'utf8'))?.pid ?? null;
  } catch {
    return null; // not written yet
  }
}

function sessionOf(pid: number): number | null {
  try {
    return getsid(pid);
  } catch {
    return null;
  }
}

function terminalOf(pid: number): string {
  try {
    return processInfo(pid)?.tty ?? 'none';
  } catch {
    return '?';
  }
}

function umaskOf(pid: number): string {
  try {
    const match = /^Umask:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? match[1] : '?';
  } catch {
    return '?';
  }
}

function cwdOf(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return process.platform === 'linux' ? '?' : '/ (set by the daemon)';
  }
}
