// SIGUSR2: the master re-executes its program (new code) with the listening socket kept open,
// as unicorn does. The new master adopts the socket instead of binding, starts its workers,
// and writes 'R' on a pipe once they all accept; only then does the old master close.
// Connections keep queueing in the one socket all along: none is refused.
import { spawn } from 'child_process';
import * as fs from 'fs';
import { argError } from '../args';
import { describeEnd } from '../status';
import { Bound, HANDOVER_ENV, Handover } from './listen';

/** The descriptors the new master gets: the socket, and the pipe it reports ready on. */
const SOCKET_FD = 3;
const NOTIFY_FD = 4;

/**
 * Starts the new master and resolves with its pid once its workers accept (after `closeOld`
 * has stopped this master's workers); rejects if it exits first, leaving this master serving.
 */
export function handOver(bound: Bound, closeOld: () => Promise<void>): Promise<number> {
  const handover: Handover = {
    fd: SOCKET_FD,
    address: bound.address,
    path: bound.path,
    notifyFd: NOTIFY_FD,
  };
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, [HANDOVER_ENV]: JSON.stringify(handover) },
    stdio: ['inherit', 'inherit', 'inherit', bound.fd, 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const notify = child.stdio[NOTIFY_FD] as NodeJS.ReadableStream & { destroy(): void };
    let done = false;
    const finish = (error: Error | null) => {
      if (done) return;
      done = true;
      notify.destroy();
      child.removeListener('exit', onExit);
      if (error !== null) {
        reject(error);
        return;
      }
      // The new master is on its own now (its parent, this master, is about to end).
      child.unref();
      closeOld().then(() => resolve(child.pid as number), reject);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      finish(
        argError(
          Error,
          'ERR_PREFORK_HANDOVER',
          'the new master exited before its workers accepted ' +
            `(${describeEnd({ exitCode: code, signal })})`,
        ),
      );
    };
    child.on('error', (error) => finish(error));
    child.on('exit', onExit);
    notify.on('data', (data: Buffer) => {
      if (data.includes(0x52 /* R */)) finish(null);
    });
    notify.on('error', () => undefined);
  });
}

/** In the new master, once its workers accept: tells the old master to close. */
export function notifyPredecessor(handover: Handover): void {
  try {
    fs.writeSync(handover.notifyFd, 'R');
    fs.closeSync(handover.notifyFd);
  } catch {
    // The old master is gone already.
  }
}
