// The only module that loads the compiled addon. node-gyp-build picks build/Release when it
// exists, otherwise the prebuilt binary in prebuilds/<platform>-<arch>/.
import * as path from 'path';

/** [exited, exitStatus, signaled, termSig, coreDumped, stopped, stopSig, continued] */
export type DecodedStatus = [boolean, number, boolean, number, boolean, boolean, number, boolean];

export interface NativeBinding {
  fork(): number;
  _exit(code?: number): never;
  activeRequestCount(): number;
  memoryScanStats(): { fullScans: number; cacheHits: number };
  setChildSubreaper(on: boolean): void;
  watchLoopDrain(callback: (phase: 'beforeExit' | 'exit') => void): boolean;

  waitpid(pid: number, options?: number): [number, number] | null;
  wait(): [number, number];
  decodeStatus(status: number): DecodedStatus;
  constants: { WNOHANG: number; WUNTRACED: number; WCONTINUED: number };

  getpid(): number;
  getppid(): number;
  setsid(): number;
  getsid(pid?: number): number;
  setpgid(pid: number, pgid: number): void;
  getpgid(pid?: number): number;
  umask(mask: number): number;

  dup(fd: number): number;
  dup2(oldfd: number, newfd: number): number;
  pipe(): [number, number];
  close(fd: number): void;

  execve(file: string, argv: string[], env: string[]): never;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const load = require('node-gyp-build') as (dir: string) => unknown;

// Compiled to dist/src/native.js: the package root is two levels up.
export const native = load(path.join(__dirname, '..', '..')) as NativeBinding;

/**
 * Calls a native function with exactly the arguments the public wrapper received, so the
 * addon's own checks see missing, extra and wrongly typed arguments.
 */
export function forward<R>(fn: (...args: never[]) => R, args: IArguments): R {
  return Reflect.apply(fn, undefined, args) as R;
}
