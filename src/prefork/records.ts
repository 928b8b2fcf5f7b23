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
  /** It takes connections other workers hand over (its server is a net.Server). */
  balancing: boolean;
  stopping: boolean;
  lastBeat: number;
  channel: net.Socket;
  killTimer: NodeJS.Timeout | null;
  exited: Promise<WaitStatus>;
}

/** What `server.workers` and the events show of a record. */
export function workerInfo({ id, pid, generation, startedAt }: WorkerInfo): WorkerInfo {
  return { id, pid, generation, startedAt };
}

/** The running workers silent past `timeoutMs`: no heartbeat since, or not ready since forked. */
export function stuck(
  records: Iterable<WorkerRecord>,
  timeoutMs: number,
  now: number,
): WorkerRecord[] {
  const silent: WorkerRecord[] = [];
  for (const record of records) {
    const since = record.ready ? record.lastBeat : record.startedAt;
    if (!record.stopping && now - since > timeoutMs) silent.push(record);
  }
  return silent;
}
