// What the master knows of each worker: what `server.workers` and the events show, and the
// master's own record of it.
import * as net from 'net';
import { WaitStatus } from '../status';

/** A worker as `server.workers` and the events show it. */
export interface WorkerInfo {
  id: number;
  pid: number;
  generation: number;
  /** When it was forked, in ms since the epoch (Date.now()). */
  startedAt: number;
}

/** A worker just forked, before its record is set up. */
export interface Forked extends WorkerInfo {
  /** The read end of its channel. */
  readEnd: number;
}

export interface WorkerRecord extends WorkerInfo {
  ready: boolean;
  stopping: boolean;
  lastBeat: number;
  channel: net.Socket;
  killTimer: NodeJS.Timeout | null;
  exited: Promise<WaitStatus>;
}
