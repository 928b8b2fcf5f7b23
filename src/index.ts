// Public exports.
//
// The core (fork, the POSIX calls, the wait-status macros, the fork-safe mode) loads with the
// library, written as `export import` so that each is a plain value on the CommonJS exports
// object: `export { x } from` compiles to a getter, and a getter first called in a fork child
// (`pf._exit(0)`, or TypeScript's `(0, pf._exit)(0)`) would be compiled there, in every child.
//
// Process, Pool, the reapers, daemonize(), processInfo() and prefork() load on first use
// (lazy.ts says why); after that first use they are plain values too. Node's ESM loader reads
// every export of a CommonJS module when it is imported, so `import` from the ESM entry loads
// them at once (esm/index.mjs names them).
import * as daemonError from './daemon/start-error';
import './daemon/startup'; // what daemonize() must note at load, before the program runs
import * as forkModule from './fork';
import * as forksafe from './forksafe';
import * as posix from './posix';
import * as status from './status';
import type * as daemon from './daemon';
import type * as preforkModule from './prefork';
import type * as procinfo from './procinfo';
import type * as processModule from './process';
import type * as pool from './pool';
import type * as reaper from './reaper';

export import fork = forkModule.fork;

export import FORK_SAFE_FLAGS = forksafe.FORK_SAFE_FLAGS;
export import ensureForkSafe = forksafe.ensureForkSafe;
export import isForkSafe = forksafe.isForkSafe;

export import WCONTINUED = posix.WCONTINUED;
export import WNOHANG = posix.WNOHANG;
export import WUNTRACED = posix.WUNTRACED;
export import _exit = posix._exit;
export import constants = posix.constants;
export import dup = posix.dup;
export import dup2 = posix.dup2;
export import getpgid = posix.getpgid;
export import getpid = posix.getpid;
export import getppid = posix.getppid;
export import getsid = posix.getsid;
export import pipe = posix.pipe;
export import setpgid = posix.setpgid;
export import setsid = posix.setsid;
export import umask = posix.umask;
export import wait = posix.wait;
export import waitpid = posix.waitpid;

export import WCOREDUMP = status.WCOREDUMP;
export import WEXITSTATUS = status.WEXITSTATUS;
export import WIFCONTINUED = status.WIFCONTINUED;
export import WIFEXITED = status.WIFEXITED;
export import WIFSIGNALED = status.WIFSIGNALED;
export import WIFSTOPPED = status.WIFSTOPPED;
export import WSTOPSIG = status.WSTOPSIG;
export import WTERMSIG = status.WTERMSIG;
export import waitstatusToExitcode = status.waitstatusToExitcode;
export type { WaitStatus } from './status';

export import DaemonStartError = daemonError.DaemonStartError;

// Loaded on first use (see above); declared here, defined by loadOnFirstUse() below.
export declare const Reaper: typeof reaper.Reaper;
export type Reaper = reaper.Reaper;
export declare const reapChildren: typeof reaper.reapChildren;
export declare const reaperDiagnostics: typeof reaper.reaperDiagnostics;
export declare const setChildSubreaper: typeof reaper.setChildSubreaper;
export declare const waitFor: typeof reaper.waitFor;
export type { ReapOptions, ReapScope, ReaperOptions } from './reaper';

export declare const processInfo: typeof procinfo.processInfo;
export type { ProcessInfo } from './procinfo';

export declare const daemonize: typeof daemon.daemonize;
export type { Daemon, DaemonizeOptions } from './daemon';

export declare const Process: typeof processModule.Process;
export type Process<T = unknown> = processModule.Process<T>;
export declare const activeChildren: typeof processModule.activeChildren;
export declare const currentProcess: typeof processModule.currentProcess;
export type { ProcessOptions } from './process';

export declare const prefork: typeof preforkModule.prefork;
export declare const PreforkServer: typeof preforkModule.PreforkServer;
export type PreforkServer = preforkModule.PreforkServer;
export type { ListenSpec, PreforkOptions, WorkerContext, WorkerInfo } from './prefork';
export declare const Pool: typeof pool.Pool;
export type Pool = pool.Pool;
export declare const pmap: typeof pool.pmap;
export type { ApplyOptions, MapOptions, PmapOptions, PoolOptions } from './pool';

function loadOnFirstUse(load: () => Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) {
    Object.defineProperty(exports, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = load()[name];
        // From now on a plain value, like the core's exports.
        Object.defineProperty(exports, name, {
          value,
          enumerable: true,
          configurable: true,
          writable: true,
        });
        return value;
      },
    });
  }
}

loadOnFirstUse(
  () => require('./reaper'),
  ['Reaper', 'reapChildren', 'reaperDiagnostics', 'setChildSubreaper', 'waitFor'],
);
loadOnFirstUse(() => require('./procinfo'), ['processInfo']);
loadOnFirstUse(() => require('./daemon'), ['daemonize']);
loadOnFirstUse(() => require('./process'), ['Process', 'activeChildren', 'currentProcess']);
loadOnFirstUse(() => require('./prefork'), ['prefork', 'PreforkServer']);
loadOnFirstUse(() => require('./pool'), ['Pool', 'pmap']);
