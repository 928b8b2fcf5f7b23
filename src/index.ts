// Public exports only. Written as `export import` so that each is a plain value on the CommonJS
// exports object: `export { x } from` compiles to a getter, and a getter first called in a fork
// child (`pf._exit(0)`, or TypeScript's `(0, pf._exit)(0)`) is compiled there, ~0.3 ms a child.
import * as daemon from './daemon';
import * as forkModule from './fork';
import * as forksafe from './forksafe';
import * as posix from './posix';
import * as procinfo from './procinfo';
import * as processModule from './process';
import * as reaper from './reaper';
import * as status from './status';

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

export import Reaper = reaper.Reaper;
export import reapChildren = reaper.reapChildren;
export import setChildSubreaper = reaper.setChildSubreaper;
export import waitFor = reaper.waitFor;
export type { ReapOptions, ReapScope, ReaperOptions } from './reaper';

export import processInfo = procinfo.processInfo;
export type { ProcessInfo } from './procinfo';

export import DaemonStartError = daemon.DaemonStartError;
export import daemonize = daemon.daemonize;
export type { Daemon, DaemonizeOptions } from './daemon';

export import Process = processModule.Process;
export import activeChildren = processModule.activeChildren;
export import currentProcess = processModule.currentProcess;
export type { ProcessOptions } from './process';
