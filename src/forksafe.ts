// The fork-safe mode: Node started with --single-threaded, so V8 posts no background work
// (GC, compilation) whose worker threads a fork child would not have.
import { argError, checkArity } from './args';
import { identityOf, startupFds } from './daemon/startup';
import { native } from './native';
import { requireMainThread } from './main-thread';

/**
 * The node flags of the fork-safe mode. `--single-threaded`: V8 posts no background work
 * (garbage collection, compilation) to worker threads, which a fork child would not have.
 * `--v8-pool-size=1`: one V8 worker thread instead of one per core. Node 18 (V8 10.2) needs it:
 * it hands garbage-collection jobs to those threads even with --single-threaded, and a child
 * can block on their task queue. On later versions the threads sit idle, but every fork
 * copies their stacks and every child rewrites their descriptors, so fewer is faster.
 */
export const FORK_SAFE_FLAGS: readonly string[] = Object.freeze([
  '--single-threaded',
  '--v8-pool-size=1',
]);

/** What the mode requires: --single-threaded, and on Node 18 the single worker thread too. */
export const REQUIRED_FORK_SAFE_FLAGS: readonly string[] =
  Number(process.versions.node.split('.')[0]) < 20 ? FORK_SAFE_FLAGS : ['--single-threaded'];
// execArgv never changes; reading it in a fork child costs page faults on every fork.
const startedForkSafe = REQUIRED_FORK_SAFE_FLAGS.every((flag) => process.execArgv.includes(flag));

/**
 * True when this process was started in the fork-safe mode: `node --single-threaded` (Node 18:
 * with `--v8-pool-size=1` as well).
 */
export function isForkSafe(): boolean {
  if (arguments.length !== 0) checkArity(arguments, 0, 0);
  return startedForkSafe;
}

/**
 * The descriptors >= 3 this program was started with that are still open on the same file.
 * Node marks inherited descriptors close-on-exec at start-up; a launcher clears that flag on
 * these so that the program it executes inherits them as this one did.
 */
export function inheritedFds(): number[] {
  const fds: number[] = [];
  for (const [fd, identity] of startupFds) {
    if (identityOf(fd) === identity) fds.push(fd);
  }
  return fds;
}

/**
 * The child_process IPC channel (`child_process.fork()`) this process was started with, if it
 * is still connected. Node removes NODE_CHANNEL_FD and NODE_CHANNEL_SERIALIZATION_MODE from
 * the environment when it opens the channel, so a re-executed node needs them back.
 */
export function inheritedChannel(): { fd: number; env: Record<string, string> } | null {
  const fd = (process.channel as { fd?: unknown } | undefined)?.fd;
  if (typeof fd !== 'number' || fd < 0 || !process.connected) return null;
  return {
    fd,
    env: { NODE_CHANNEL_FD: String(fd), NODE_CHANNEL_SERIALIZATION_MODE: channelSerialization() },
  };
}

/** 'advanced' when Node set the channel up with a message buffer (the only place it shows). */
function channelSerialization(): 'json' | 'advanced' {
  const holder = process as unknown as Record<symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(process)) {
    const handle = holder[key];
    if (key.description !== 'kChannelHandle' || typeof handle !== 'object' || handle === null)
      continue;
    const advanced = Object.getOwnPropertySymbols(handle).some(
      (own) => own.description === 'kMessageBuffer',
    );
    return advanced ? 'advanced' : 'json';
  }
  return 'json';
}

/** Node's flags that give the program on the command line (`node -e`, `node -p`). */
const EVAL_FLAGS: readonly string[] = ['-e', '--eval', '-p', '--print', '-pe'];

/**
 * The main program is code Node read from standard input (`… | node`, `node -`): set as
 * `process._eval` like `-e` code, but not among node's arguments.
 */
function programFromStdin(): boolean {
  if (typeof (process as { _eval?: unknown })._eval !== 'string') return false;
  return !process.execArgv.some((arg) => EVAL_FLAGS.includes(arg) || /^--(eval|print)=/.test(arg));
}

/**
 * Re-executes the current program (same pid, same arguments, same environment) with
 * FORK_SAFE_FLAGS unless it already runs in the fork-safe mode. Call it first, before the
 * program does any work: everything before it runs twice. The descriptors the program was
 * started with and its child_process IPC channel are kept. A program read from standard
 * input cannot be read again: that throws.
 */
export function ensureForkSafe(): void {
  checkArity(arguments, 0, 0);
  if (startedForkSafe) return;
  requireMainThread('ensureForkSafe()');
  if (programFromStdin()) {
    throw argError(
      Error,
      'ERR_FORK_SAFE_STDIN',
      'ensureForkSafe(): the program was read from standard ' +
        'input, which the re-executed node cannot read again; run it from a file, or start node with ' +
        FORK_SAFE_FLAGS.join(' '),
    );
  }
  const argv = [
    process.execPath,
    ...FORK_SAFE_FLAGS,
    ...process.execArgv,
    ...process.argv.slice(1),
  ];
  const channel = inheritedChannel();
  const env = Object.entries({ ...process.env, ...channel?.env }).map(
    ([name, value]) => `${name}=${value ?? ''}`,
  );
  const kept = inheritedFds();
  if (channel !== null && !kept.includes(channel.fd)) kept.push(channel.fd);
  const closeOnExec = kept.map((fd) => native.closeOnExec(fd));
  kept.forEach((fd) => native.replaceFd(fd, fd, false));
  try {
    native.execve(process.execPath, argv, env);
  } catch (error) {
    kept.forEach((fd, index) => native.replaceFd(fd, fd, closeOnExec[index]));
    throw error;
  }
}
