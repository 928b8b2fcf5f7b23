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
