// Seed 002 cure 3: daemonize(pid_file) step by step — fork, the parent waits; setsid, chdir,
// umask; fork again, the first child exits; stdio onto /dev/null; the pidfile, removed at exit.
// Then the daemon's ps line, and its cleanup through the pidfile.
import { existsSync, openSync, readFileSync, readlinkSync, unlinkSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isatty } from 'tty';
import { dup2, fork, getppid, getsid, processInfo, setsid, umask, waitpid } from '../../index';
import { openFds } from '../../fds';
import { processName, psRow } from '../ps';
import { DemoOutput, ended, nameProcess, stateOf, until } from './context';

export async function daemonDemo(out: DemoOutput): Promise<void> {
  out.title('daemon', 'cure 3: the double fork that makes a daemon');
  out.explain(
    'A daemon runs in the background, with no terminal and no parent waiting on it. The classic',
    'recipe forks twice: the first child starts a new session (no controlling terminal), the',
    'second fork leaves a process that is not a session leader, so it can never get one again.',
    'The library does all of this (and more) in daemonize(); here are the steps one by one.',
  );
  nameProcess('daemon', 'parent');
  const parent = process.pid;
  const pidFile = path.join(os.tmpdir(), `posix-fork-demo-daemon-${parent}.pid`);
  out.step('1. fork(); the parent waits for the first child (so it leaves no zombie)');
  const first = fork();
  if (first === 0) {
    nameProcess('daemon', 'first child');
    const sid = setsid();
    process.chdir('/');
    umask(0);
    out.say('first child', `2. setsid() → new session ${sid}, no controlling terminal; chdir("/"); umask(0)`);
    out.say('first child', '3. fork() again, then exit: the grandchild is not a session leader');
    if (fork() > 0) process.exit(0);
    nameProcess('daemon', 'daemon');
    becomeDaemon(out, pidFile, sid);
    return new Promise(() => {}); // the daemon runs until SIGTERM
  }
  const status = waitpid(first);
  out.say('parent', `the first child ${first} exited (code ${status?.exitCode}) and is reaped`);
  const written = await until(() => readPid(pidFile) !== null, 5000);
  const daemon = readPid(pidFile);
  if (!written || daemon === null) throw new Error(`the daemon did not write ${pidFile}`);
  await until(() => psRow(daemon)?.ppid !== first, 2000);
  out.line();
  const row = psRow(daemon);
  const adopter = row?.ppid ?? 0;
  out.table(`the daemon, pid ${daemon} from ${pidFile}:`, [parent, daemon], new Map([
    [daemon, `← the daemon: parent ${adopter} (${processName(adopter) ?? '?'})`],
  ]));
  out.note(`session ${sessionOf(daemon)}: started by the first child ${first}, now gone; no "s" in STAT: ` +
    'the daemon is not its leader');
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
  out.good(`daemon ${daemon} ${stopped ? 'ended on SIGTERM' : 'killed'}; ` +
    `${removed ? 'its exit handler removed the pidfile' : 'pidfile removed by the demo'}`);
  const reaped = await until(() => stateOf(daemon) === null, 3000, 20);
  if (!reaped) {
    out.note(`pid ${daemon} is a zombie until its new parent ${adopter} reaps it (that process is slow to reap)`);
  }
}

/** In the grandchild: stdio onto /dev/null, the pidfile, an exit handler, and some "work". */
function becomeDaemon(out: DemoOutput, pidFile: string, sid: number): void {
  out.say('daemon', `4. I am ${process.pid}: parent ${getppid()}, session ${sid}; ` +
    `stdio → /dev/null, pid → ${pidFile}`);
  const devNull = openSync('/dev/null', 'r+');
  for (const fd of [0, 1, 2]) dup2(devNull, fd);
  // A terminal on stdout is used through a second descriptor by Node: point it away too.
  for (const fd of openFds()) {
    if (fd > 2 && fd !== devNull && safeIsatty(fd)) dup2(devNull, fd);
  }
  // Python's atexit.register(os.remove, pid_file); SIGTERM ends the daemon through 'exit'.
  process.on('exit', () => {
    try {
      unlinkSync(pidFile);
    } catch {
      // already removed
    }
  });
  process.on('SIGTERM', () => process.exit(0));
  // Written once the handlers are in place: whoever reads the pid may send SIGTERM at once.
  writeFileSync(pidFile, `${process.pid}\n`);
  setInterval(() => {}, 60000); // the daemon's work
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function safeIsatty(fd: number): boolean {
  try {
    return isatty(fd);
  } catch {
    return false;
  }
}

function sessionOf(pid: number): string {
  try {
    return String(getsid(pid));
  } catch {
    return '?';
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
