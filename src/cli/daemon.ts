// `posix-fork daemon|status|stop`: daemonize any command with the library's daemonize(),
// then ask about it and stop it through its pidfile, with LSB init-script exit statuses.
import * as fs from 'fs';
import { daemonize } from '../index';
import { inheritedFds } from '../forksafe';
import {
  PidFileVerdict,
  PidProof,
  describeHolders,
  inspectPidFile,
  recordedProcess,
  removeStalePidFile,
  survivingMembers,
} from '../pidfile';
import { Identity, identify, sessionMembers } from '../proc';
import { sleepMs } from '../sleep';
import { execFailureStatus, execProgram, resolveCommand } from './exec';
import { CliError, USAGE_EXIT } from './output';

export interface DaemonOptions {
  pidfile?: string;
  stdout?: string;
  stderr?: string;
  cwd?: string;
  umask?: string;
  waitReady?: boolean;
  detach?: boolean;
}

/** The CLI's default umask: files the command creates are not writable by others. */
const DEFAULT_UMASK = 0o022;

/** Parses an octal mask: 022, 0022, 0o022. */
export function parseUmask(text: string): number {
  const match = /^(?:0o)?([0-7]{1,4})$/i.exec(text.trim());
  const mask = match ? parseInt(match[1], 8) : NaN;
  if (!Number.isInteger(mask) || mask > 0o777) {
    throw new CliError(
      `invalid --umask '${text}': expected an octal mask from 000 to 777`,
      USAGE_EXIT,
    );
  }
  return mask;
}

/** `stop --timeout`: seconds, 0 to 86400 (a day). */
export function parseSeconds(text: string): number {
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds > 86400) {
    throw new CliError(`invalid --timeout '${text}': expected seconds from 0 to 86400`, USAGE_EXIT);
  }
  return seconds;
}

/**
 * Runs in the launcher (daemonize() exits it once the daemon is set up) and again in the
 * daemon, where daemonize() returns and the command replaces the daemon: same pid and start
 * time, so the pidfile's record names the command. The lock is not passed on (close-on-exec):
 * no child of the command can make a dead daemon look alive.
 */
export function startDaemon(command: string[], options: DaemonOptions): never {
  const [name, ...args] = command;
  // Resolved here, in the launcher's directory and PATH: "not found" is reported before
  // anything forks, and the daemon (in / by default) finds the very same file.
  const file = resolveCommand(name);
  const umask = options.umask === undefined ? DEFAULT_UMASK : parseUmask(options.umask);
  if (options.cwd !== undefined) {
    let isDirectory = false;
    try {
      isDirectory = fs.statSync(options.cwd).isDirectory();
    } catch {
      // reported below
    }
    if (!isDirectory) throw new CliError(`--cwd ${options.cwd}: not a directory`, USAGE_EXIT);
  }
  const daemon = daemonize({
    pidFile: options.pidfile,
    stdout: options.stdout,
    stderr: options.stderr,
    workingDirectory: options.cwd ?? '/',
    umask,
    detach: options.detach ?? true,
    waitForReady: options.waitReady ?? false,
  });
  // In the daemon now. Its stderr is the --stderr log (or /dev/null).
  if (options.waitReady) daemon.ready();
  // In place (under a supervisor), the command gets what this process was started with, such
  // as LISTEN_FDS sockets; a detached daemon has closed those (daemon(7) step 1).
  const inheritFds = options.detach === false ? inheritedFds() : [];
  try {
    return execProgram(file, [name, ...args], { inheritFds });
  } catch (error) {
    // The pidfile goes with this process's exit; the log says why.
    process.stderr.write(
      `posix-fork daemon: cannot execute ${file}: ${(error as Error).message}\n`,
    );
    process.exit(execFailureStatus(error));
  }
}

/** The LSB status of what a pidfile proves, with the line `status` prints. */
export function describeVerdict(
  file: string,
  verdict: PidFileVerdict,
): { status: number; line: string } {
  switch (verdict.state) {
    case 'running':
      return { status: 0, line: `running (pid ${verdict.record.pid})` };
    case 'starting':
      return { status: 0, line: `starting (pid not written yet to ${file})` };
    case 'dead': {
      const n = verdict.members.length;
      return {
        status: 1,
        line:
          `dead (pid ${verdict.record.pid} is gone), ${n} process${n === 1 ? '' : 'es'} of its ` +
          `session still run${n === 1 ? 's' : ''}: pids ${verdict.members.map((m) => m.pid).join(' ')}`,
      };
    }
    case 'stale': {
      const pid = verdict.record !== null ? ` (stale pid ${verdict.record.pid})` : '';
      const locked =
        verdict.holders.length > 0 ? `; locked by ${describeHolders(verdict.holders)}` : '';
      return { status: 1, line: `not running, but the pidfile ${file} exists${pid}${locked}` };
    }
    case 'absent':
      return { status: 3, line: `not running (no pidfile ${file})` };
    case 'unproven':
      return { status: 4, line: `unknown: ${verdict.reason}` };
    case 'untrusted':
      return { status: 4, line: `unknown: cannot trust the pidfile: ${verdict.reason}` };
    case 'invalid':
      return { status: 4, line: `unknown: ${verdict.reason}` };
  }
}

/** `status`: prints one line and returns the LSB status (0, 1, 3 or 4). */
export function daemonStatus(file: string, proof: PidProof, print: (line: string) => void): number {
  const { status, line } = describeVerdict(file, inspectPidFile(file, proof));
  print(line);
  return status;
}

/**
 * The processes `stop` ends, each checked again just before it is signalled: the recorded
 * daemon while its start time still matches, and members of its recorded session.
 */
function serviceProcesses(verdict: PidFileVerdict & { state: 'running' | 'dead' }): Identity[] {
  const found = new Map<number, Identity>();
  if (verdict.state === 'running') found.set(verdict.identity.pid, verdict.identity);
  if (verdict.state === 'dead') for (const m of verdict.members) found.set(m.pid, m);
  if (verdict.state === 'running' && verdict.record.sid !== null) {
    for (const m of sessionMembers(verdict.record.sid)) if (!m.ended) found.set(m.pid, m);
  } else if (verdict.state === 'dead') {
    for (const m of survivingMembers(verdict.record)) found.set(m.pid, m);
  }
  found.delete(process.pid);
  return [...found.values()];
}

/** Still the very process found earlier (same start time) and not yet ended. */
function stillThere(member: Identity): boolean {
  const now = identify(member.pid);
  return now !== null && !now.ended && now.start === member.start;
}

function signalAll(members: readonly Identity[], signal: NodeJS.Signals): void {
  for (const member of members) {
    if (!stillThere(member)) continue;
    try {
      process.kill(member.pid, signal);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ESRCH') continue;
      if (code === 'EPERM')
        throw new CliError(`not allowed to signal pid ${member.pid} (EPERM)`, 4);
      throw error;
    }
  }
}

/**
 * `stop`: SIGTERM to the daemon and every process of its session, SIGKILL to what is left
 * after `timeoutSeconds`, then waits until nothing of the service runs. Returns 0 only then
 * (or when nothing was running; a stale pidfile is removed). Throws CliError otherwise, and
 * signals nothing without proof (exit 4).
 */
export function stopDaemon(
  file: string,
  timeoutSeconds: number,
  proof: PidProof,
  print: (line: string) => void,
): number {
  const verdict = inspectPidFile(file, proof);
  switch (verdict.state) {
    case 'absent':
      print(`not running (no pidfile ${file})`);
      return 0;
    case 'stale':
      if (verdict.holders.length > 0) {
        // Removing it under a launch that holds the lock would leave that daemon without a file.
        print(
          `not running; the stale pidfile ${file} is locked by ${describeHolders(verdict.holders)}: left in place`,
        );
        return 0;
      }
      removeStalePidFile(file, verdict.record);
      print(`not running; removed the stale pidfile ${file}`);
      return 0;
    case 'starting':
      throw new CliError(`the daemon of ${file} is starting (no pid yet); try again`, 1);
    case 'running':
    case 'dead':
      break;
    default:
      throw new CliError(`${describeVerdict(file, verdict).line}; nothing was signalled`, 4);
  }
  const record = verdict.record;
  const refresh = (): Identity[] => {
    const now = inspectPidFile(file, proof);
    // The daemon's exit handler may have removed the file: its session is still known.
    if (now.state === 'running' || now.state === 'dead') return serviceProcesses(now);
    const main = recordedProcess(record);
    return [...(main !== null ? [main] : []), ...survivingMembers(record)].filter(
      (m) => m.pid !== process.pid,
    );
  };
  let members = serviceProcesses(verdict);
  signalAll(members, 'SIGTERM');
  print(`sent SIGTERM to pid ${members.map((m) => m.pid).join(' ')}`);
  const gone = (ms: number, signal: NodeJS.Signals): boolean => {
    const deadline = Date.now() + ms;
    for (;;) {
      members = refresh();
      if (members.length === 0) return true;
      if (Date.now() >= deadline) return false;
      signalAll(members, signal); // processes started meanwhile get it too
      sleepMs(20);
    }
  };
  if (!gone(timeoutSeconds * 1000, 'SIGTERM')) {
    print(
      `still running after ${timeoutSeconds} s: sent SIGKILL to pid ${members.map((m) => m.pid).join(' ')}`,
    );
    signalAll(members, 'SIGKILL');
    if (!gone(10000, 'SIGKILL')) {
      throw new CliError(`pid ${members.map((m) => m.pid).join(' ')} survived SIGKILL`, 1);
    }
  }
  // The daemon's own exit handler may be removing the file right now; give it a moment.
  const deadline = Date.now() + 500;
  while (fs.existsSync(file) && Date.now() < deadline) sleepMs(10);
  if (fs.existsSync(file)) removeStalePidFile(file, record);
  print(`stopped (pid ${record.pid})`);
  return 0;
}
