// What runs in a forked worker: tie its life to the master's, serve, tell the master when it
// accepts and that it is alive, and stop gracefully on SIGTERM.
import * as fs from 'fs';
import * as net from 'net';
import { native } from '../native';
import { Balance } from './balance';
import { WorkerContext } from './options';

export interface WorkerSetup {
  masterPid: number;
  /**
   * Write end of this worker's pipe to the master: 'R' once accepting ('B' when it also takes
   * part in balancing connections), 'H' as heartbeat.
   */
  channelFd: number;
  /** Read end of a pipe only the master writes to (where there is no PR_SET_PDEATHSIG). */
  masterWatchFd: number | null;
  context: WorkerContext;
  serve: (context: WorkerContext) => unknown;
  /** Heartbeat period; 0: none. */
  beatMs: number;
  balance: Balance;
}

const SIGKILL = 9;

interface Closable {
  close(callback?: (error?: Error) => void): unknown;
  closeIdleConnections?: () => void;
  listening?: boolean;
  once?: (event: string, listener: (...args: unknown[]) => void) => unknown;
}

function isClosable(value: unknown): value is Closable {
  return (
    typeof value === 'object' && value !== null && typeof (value as Closable).close === 'function'
  );
}

/** Called in the child right after fork(), before anything else. */
export function dieWithMaster(masterPid: number, masterWatchFd: number | null): void {
  if (masterWatchFd === null) {
    native.setParentDeathSignal(SIGKILL);
    // A master that died before the call sent nothing: the worker is an orphan already.
    if (native.getppid() !== masterPid) native._exit(1);
    return;
  }
  // End of file on this pipe: the master, its only writer, has gone.
  const watch = new net.Socket({ fd: masterWatchFd, readable: true, writable: false });
  watch.on('end', () => native._exit(1));
  watch.on('error', () => native._exit(1));
  watch.resume();
  watch.unref();
  if (native.getppid() !== masterPid) native._exit(1);
}

export function runWorker(setup: WorkerSetup): void {
  let served: unknown;
  let stopping = false;
  let stopBalancing: (() => void) | null = null;
  let beat: NodeJS.Timeout | null = null;

  const send = (message: 'R' | 'B' | 'H') => {
    try {
      fs.writeSync(setup.channelFd, message);
    } catch {
      // The master is gone (EPIPE): this worker has nobody left to serve for.
      native._exit(1);
    }
  };

  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (beat !== null) clearInterval(beat);
    stopBalancing?.();
    if (!isClosable(served)) process.exit(0);
    const server = served as Closable;
    // Stop accepting, let the requests in flight finish; the master kills after its timeout.
    server.close(() => process.exit(0));
    server.closeIdleConnections?.();
    if (typeof server.closeIdleConnections === 'function') {
      setInterval(() => server.closeIdleConnections?.(), 100).unref();
    }
  };
  process.on('SIGTERM', stop);
  // The master decides: a terminal's Ctrl-C reaches the whole group, the master stops us.
  process.on('SIGINT', () => undefined);

  const accepting = () => {
    if (stopping) return;
    // A net.Server (http, https, net) takes part in balancing connections over the workers.
    if (served instanceof net.Server) {
      stopBalancing = setup.balance.serve(setup.context.id, served);
    }
    send(stopBalancing !== null ? 'B' : 'R');
    if (setup.beatMs > 0) {
      beat = setInterval(() => send('H'), setup.beatMs);
      beat.unref();
    }
  };

  // A synchronous throw is an uncaught exception here, as in any Node program: exit code 1.
  const value = setup.serve(setup.context);
  Promise.resolve(value).then(
    (result) => {
      served = result;
      const server = result as Closable;
      if (isClosable(result) && server.listening === false && typeof server.once === 'function') {
        server.once('listening', accepting);
        server.once('error', (error) => {
          throw error;
        });
      } else {
        accepting();
      }
    },
    (error: unknown) => {
      process.nextTick(() => {
        throw error;
      });
    },
  );
}
