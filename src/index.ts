// Public exports only.
export { fork } from './fork';
export { FORK_SAFE_FLAGS, ensureForkSafe, isForkSafe } from './forksafe';
export {
  WCONTINUED,
  WNOHANG,
  WUNTRACED,
  _exit,
  constants,
  dup,
  dup2,
  getpgid,
  getpid,
  getppid,
  getsid,
  pipe,
  setpgid,
  setsid,
  umask,
  wait,
  waitpid,
} from './posix';
export {
  WCOREDUMP,
  WEXITSTATUS,
  WIFCONTINUED,
  WIFEXITED,
  WIFSIGNALED,
  WIFSTOPPED,
  WSTOPSIG,
  WTERMSIG,
  waitstatusToExitcode,
} from './status';
export type { WaitStatus } from './status';
export { Reaper, reapChildren, setChildSubreaper, waitFor } from './reaper';
export type { ReapOptions, ReapScope, ReaperOptions } from './reaper';
export { processInfo } from './procinfo';
export type { ProcessInfo } from './procinfo';
export { DaemonStartError, daemonize } from './daemon';
export type { Daemon, DaemonizeOptions } from './daemon';
export { Process, activeChildren, currentProcess } from './process';
export type { ProcessOptions } from './process';
