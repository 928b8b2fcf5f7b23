// `posix-fork reap -- cmd…`: a small init like tini. Runs the command as its child, forwards
// signals to it (or to its process group), reaps every child that ends — the command's
// orphans too when it is PID 1 or a subreaper — and exits with the command's status.
import * as os from 'os';
import { inheritedChannel, inheritedFds } from '../forksafe';
import { native } from '../native';
import { readStat } from '../proc';
import { describeEnd } from '../status';
import {
  Reaper,
  WaitStatus,
  fork,
  getpid,
  reapChildren,
  setChildSubreaper,
  setpgid,
  waitFor,
} from '../index';
import { execFailureStatus, execProgram, resolveCommand } from './exec';
import { CliError } from './output';

export interface ReapOptions {
  subreaper?: boolean;
  group?: boolean;
  verbose?: boolean;
}

/**
 * Forwarded like tini does: everything a user or a supervisor sends to ask something of the
 * program. Not SIGCHLD (ours), nor the job-control stops, nor the synchronous fault signals.
 */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
  'SIGALRM',
  'SIGCONT',
];

/** Signals the terminal sends to its whole foreground process group. */
const KEYBOARD_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

const SENDER_CODES: ReadonlySet<number> = new Set(Object.values(native.signalSenderCodes));

function signalNumber(signal: NodeJS.Signals): number {
  return (os.constants.signals as Record<string, number>)[signal];
}

/**
 * Who sent the delivery of `signal` being handled now: the pid of the process that called
 * kill(2) or sigqueue(3); 0 for the kernel (a terminal's Ctrl-C, Ctrl-\, resize); null when
 * unknown. Takes the delivery's record: call it once per listener call.
 */
function senderOf(signal: NodeJS.Signals): number | null {
  const record = native.signalInfoTake(signalNumber(signal));
  if (record === null) return null;
  return SENDER_CODES.has(record[0]) ? record[1] : 0;
}

/** Linux: this process's group is the foreground group of its terminal. */
function inForegroundGroup(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const stat = readStat(process.pid);
    return stat !== null && stat.ttyNr !== 0 && stat.pgid === stat.tpgid;
  } catch {
    return false;
  }
}

/** The shell convention: the exit code, or 128 + N for a process ended by signal N. */
export function shellStatus(status: WaitStatus): number {
  if (status.exitCode !== null) return status.exitCode;
  return 128 + (status.signalNumber ?? 0);
}

/** Resolves with the status to exit with once the command has ended. Call in fork-safe mode. */
export async function reap(
  command: string[],
  options: ReapOptions,
  log: (line: string) => void,
): Promise<number> {
  const [name, ...args] = command;
  const file = resolveCommand(name);
  if (options.subreaper) {
    try {
      setChildSubreaper(true);
    } catch (error) {
      throw new CliError(`--subreaper: ${(error as Error).message} (Linux only)`, 1);
    }
  }
  let child = 0;
  const send = (signal: NodeJS.Signals, sender: number | null): void => {
    const target = options.group ? -child : child;
    try {
      process.kill(target, signal);
      if (options.verbose) {
        const from = sender ? ` (sent by pid ${sender})` : '';
        log(
          `forwarded ${signal}${from} to ${options.group ? `process group ${child}` : `pid ${child}`}`,
        );
      }
    } catch {
      // ESRCH: it has just ended; its status is on the way.
    }
  };
  const pending: Array<[NodeJS.Signals, number | null]> = [];
  const watched = options.group ? [] : KEYBOARD_SIGNALS;
  const forward = (signal: NodeJS.Signals): void => {
    const sender = watched.includes(signal) ? senderOf(signal) : null;
    // The terminal's Ctrl-C, Ctrl-\ and resize reach the whole foreground process group, the
    // command included: sent again, the command would see them twice. A kill(2) by another
    // process reaches this process only, so it is forwarded.
    const fromTerminal = sender === 0 || (sender === null && inForegroundGroup());
    if (watched.includes(signal) && fromTerminal) return;
    if (child === 0) {
      pending.push([signal, sender]); // arrived before the child exists: sent right after fork
      return;
    }
    send(signal, sender);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  // After the listeners: their handler is the one that records who sent each signal.
  for (const signal of watched) native.signalInfoWatch(signalNumber(signal));

  const reaper = new Reaper({ scope: 'all' });
  reaper.on('exit', (status) => {
    if (status.pid !== child && options.verbose) {
      log(`reaped orphan ${status.pid} (${describeEnd(status)})`);
    }
  });
  reaper.start();

  // The command inherits what this process was started with (LISTEN_FDS sockets, …), except
  // the IPC channel, which this process's Node has taken over.
  const channelFd = inheritedChannel()?.fd;
  const inheritFds = inheritedFds().filter((fd) => fd !== channelFd);
  const reaperPid = process.pid;
  const pid = fork();
  if (pid === 0) {
    try {
      if (options.group) setpgid(0, 0);
      execProgram(file, [name, ...args], { inheritFds, env: commandEnv(reaperPid) });
    } catch (error) {
      process.stderr.write(
        `posix-fork reap: cannot execute ${file}: ${(error as Error).message}\n`,
      );
      process.exit(execFailureStatus(error));
    }
  }
  child = pid;
  if (options.group) {
    try {
      setpgid(pid, pid); // also here, so a signal sent right away reaches the group
    } catch {
      // EACCES: the child has already exec'd (it did it itself); ESRCH: already gone.
    }
  }
  if (options.verbose) log(`started ${name} as pid ${pid}`);
  for (const [signal, sender] of pending.splice(0)) send(signal, sender);

  const status = await waitFor(pid);
  // Orphans that ended together with the command are reaped before we go.
  reapChildren({ scope: 'all' });
  reaper.stop();
  for (const signal of watched) native.signalInfoUnwatch(signalNumber(signal));
  for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  if (options.verbose) log(`${name} (pid ${pid}) ended: ${describeEnd(status)}`);
  return shellStatus(status);
}

/**
 * Socket activation (sd_listen_fds(3)): descriptors passed with LISTEN_PID naming this process
 * are meant for the program it runs, so the command is told they are its own.
 */
function commandEnv(reaperPid: number): NodeJS.ProcessEnv {
  if (process.env.LISTEN_PID !== String(reaperPid)) return process.env;
  return { ...process.env, LISTEN_PID: String(getpid()) };
}
