// The master: binds once, forks the workers, replaces the ones that die, rolls reloads and
// scales, and stops them all gracefully. It never accepts a connection itself.
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as net from 'net';
import { argError, checkInteger, errnoCode } from '../args';
import { fork } from '../fork';
import { pipe } from '../posix';
import { waitFor } from '../reaper';
import { WaitStatus, describeEnd } from '../status';
import { Balance } from './balance';
import { Conditions } from './conditions';
import { Bound, bindOnce, takeHandover, unbind } from './listen';
import { MAX_WORKERS, Normalised, heartbeatInterval } from './options';
import { CRASH_LOOP_FAILURES, QUICK_DEATH_MS, Respawns } from './respawn';
import { installSignals } from './signals';
import { dieWithMaster, runWorker } from './worker';
import { handOver, notifyPredecessor } from './handover';
import { Forked, WorkerInfo, WorkerRecord, stuck, workerInfo } from './records';

export type { WorkerInfo } from './records';

export class PreforkServer extends EventEmitter {
  /** Resolves once every worker accepts; rejects when the socket cannot be bound. */
  readonly ready: Promise<void>;
  readonly #options: Normalised;
  #bound: Bound | null = null;
  readonly #records = new Map<number, WorkerRecord>();
  #target: number;
  #generation = 0;
  readonly #respawns = new Respawns(() => this.#fill());
  #beatTimer: NodeJS.Timeout | null = null;
  #uninstallSignals: (() => void) | null = null;
  #masterWatch: [number, number] | null = null;
  readonly #conditions = new Conditions();
  readonly #balance = new Balance();
  #binding: Promise<void> | null = null;
  #reloading: Promise<void> | null = null;
  #handingOver = false;
  #closing: Promise<void> | null = null;
  #inChild = false;

  constructor(options: Normalised) {
    super();
    this.#options = options;
    this.#target = options.workers;
    this.ready = this.#start();
  }

  /** The running workers (stopping ones excluded), by slot. */
  get workers(): WorkerInfo[] {
    return [...this.#records.values()]
      .filter((r) => !r.stopping)
      .sort((a, b) => a.id - b.id || a.startedAt - b.startedAt)
      .map(workerInfo);
  }

  /** Where the socket is bound, as net.Server#address() says (null before binding, or for `{ fd }`). */
  address(): net.AddressInfo | string | null {
    return this.#bound?.address ?? null;
  }

  async #start(): Promise<void> {
    const inherited = takeHandover();
    const binding = bindOnce(this.#options.listen, inherited);
    this.#binding = binding.then(
      () => undefined,
      () => undefined,
    );
    this.#bound = await binding;
    if (this.#closing !== null)
      throw argError(Error, 'ERR_SERVER_CLOSED', 'prefork server closed before it was ready');
    if (process.platform !== 'linux') this.#masterWatch = pipe();
    if (this.#options.signals)
      this.#uninstallSignals = installSignals(this, (error) => this.#reportError(error));
    const { timeoutMs } = this.#options;
    if (timeoutMs > 0) {
      this.#beatTimer = setInterval(() => this.#checkHeartbeats(), heartbeatInterval(timeoutMs));
      this.#beatTimer.unref();
    }
    this.#fill();
    if (this.#inChild) return new Promise(() => undefined);
    await this.#conditions.until(() => this.#allReady());
    if (inherited !== null) notifyPredecessor(inherited);
  }

  // Every slot below the target has a worker that accepts, and no slot above it has one.
  #allReady(): boolean {
    const ready = new Set<number>();
    for (const record of this.#records.values()) {
      if (record.stopping) continue;
      if (record.id >= this.#target) return false;
      if (record.ready) ready.add(record.id);
    }
    return ready.size === this.#target;
  }

  // Starts a worker in every slot that has none (and no replacement already scheduled). The
  // forks come back to back and the records are set up after the last: each page the master
  // writes between two forks is copied once per fork.
  #fill(): void {
    if (this.#closing !== null || this.#inChild) return;
    const forked: Forked[] = [];
    for (let id = 0; id < this.#target; id++) {
      if (this.#respawns.has(id) || this.#hasLiveWorker(id)) continue;
      const worker = this.#fork(id, this.#generation, forked);
      if (this.#inChild) return;
      if (worker !== null) forked.push(worker);
    }
    for (const worker of forked) this.#track(worker);
  }

  #hasLiveWorker(id: number, generation = 0): boolean {
    for (const record of this.#records.values()) {
      if (record.id === id && !record.stopping && record.generation >= generation) return true;
    }
    return false;
  }

  #spawn(id: number, generation: number): WorkerRecord | null {
    const worker = this.#fork(id, generation, []);
    return worker === null ? null : this.#track(worker);
  }

  /**
   * Forks the worker of slot `id`; null when the fork failed (retried or reported) and in the
   * worker, where it never returns unless `serve` is asynchronous. `pending`: workers forked
   * just before, whose channels the new worker must not hold.
   */
  #fork(id: number, generation: number, pending: readonly Forked[]): Forked | null {
    const bound = this.#bound as Bound;
    this.#balance.prepare(this.#target); // each worker can hand over to every slot
    const [readEnd, writeEnd] = pipe();
    const masterPid = process.pid;
    let pid: number;
    try {
      pid = fork();
    } catch (error) {
      fs.closeSync(readEnd);
      fs.closeSync(writeEnd);
      // Threadpool work in flight in the master (EBUSY): try again shortly.
      if (errnoCode(error) === 'EBUSY') this.#respawns.schedule(id, 20);
      else this.#reportError(error as Error);
      return null;
    }
    if (pid === 0) {
      this.#inChild = true;
      dieWithMaster(masterPid, this.#masterWatch?.[0] ?? null);
      fs.closeSync(readEnd);
      for (const worker of pending) fs.closeSync(worker.readEnd);
      this.#forgetMasterState();
      runWorker({
        masterPid,
        channelFd: writeEnd,
        masterWatchFd: this.#masterWatch?.[0] ?? null,
        context: { listen: { fd: bound.fd }, id, generation },
        serve: this.#options.serve,
        beatMs: this.#options.timeoutMs > 0 ? heartbeatInterval(this.#options.timeoutMs) : 0,
        balance: this.#balance,
      });
      return null;
    }
    fs.closeSync(writeEnd);
    return { id, pid, generation, startedAt: Date.now(), readEnd };
  }

  #track({ id, pid, generation, startedAt, readEnd }: Forked): WorkerRecord {
    const channel = new net.Socket({ fd: readEnd, readable: true, writable: false });
    const record: WorkerRecord = {
      id,
      pid,
      generation,
      startedAt,
      ready: false,
      balancing: false,
      stopping: false,
      lastBeat: startedAt,
      channel,
      killTimer: null,
      exited: waitFor(pid),
    };
    this.#records.set(pid, record);
    channel.on('data', (data: Buffer) => this.#onMessage(record, data));
    channel.on('error', () => undefined);
    record.exited.then(
      (status) => this.#onExit(record, status),
      (error: Error) => this.#reportError(error),
    );
    return record;
  }

  // In a new worker: the master's handles, timers and signal handlers are not its own.
  #forgetMasterState(): void {
    for (const record of this.#records.values()) {
      record.channel.destroy();
      if (record.killTimer !== null) clearTimeout(record.killTimer);
    }
    this.#records.clear();
    this.#respawns.cancel();
    if (this.#beatTimer !== null) clearInterval(this.#beatTimer);
    this.#uninstallSignals?.();
    if (this.#masterWatch !== null) fs.closeSync(this.#masterWatch[1]);
    this.#conditions.forget();
  }

  #onMessage(record: WorkerRecord, data: Buffer): void {
    record.lastBeat = Date.now();
    const balancing = data.includes(0x42 /* B */);
    if (!record.ready && (balancing || data.includes(0x52 /* R */))) {
      record.ready = true;
      record.balancing = balancing;
      this.#slotChanged(record.id);
      this.emit('worker', workerInfo(record));
      this.#conditions.changed();
    }
  }

  #slotChanged(id: number): void {
    const slot = [...this.#records.values()].filter((r) => r.id === id);
    this.#balance.update(id, slot);
  }

  #onExit(record: WorkerRecord, status: WaitStatus): void {
    this.#records.delete(record.pid);
    this.#slotChanged(record.id);
    if (record.killTimer !== null) clearTimeout(record.killTimer);
    record.channel.destroy();
    this.emit('exit', workerInfo(record), status);
    if (!record.stopping && this.#closing === null && record.id < this.#target) {
      const failed = !record.ready || Date.now() - record.startedAt < QUICK_DEATH_MS;
      const failures = this.#respawns.afterExit(record.id, failed);
      if (failures === CRASH_LOOP_FAILURES) {
        const error = argError(
          Error,
          'ERR_PREFORK_CRASH_LOOP',
          `prefork worker ${record.id} keeps failing: ` +
            `${failures} failed starts in a row, the last ended by ${describeEnd(status)}; retrying with backoff`,
        );
        this.#reportError(error);
        this.#conditions.rejectAll(error);
      }
    }
    this.#conditions.changed();
  }

  // 'error' when someone listens; otherwise a warning: a master that crashes takes every
  // worker with it, which is worse than the failure being reported.
  #reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else process.emitWarning(error);
  }

  #checkHeartbeats(): void {
    // A stuck worker's event loop cannot run a graceful stop.
    for (const record of stuck(this.#records.values(), this.#options.timeoutMs, Date.now()))
      this.#kill(record, 'SIGKILL');
  }

  #kill(record: WorkerRecord, signal: NodeJS.Signals): void {
    try {
      process.kill(record.pid, signal);
    } catch {
      // Exited already; reaping reports it.
    }
  }

  #stop(record: WorkerRecord): Promise<WaitStatus> {
    if (!record.stopping) {
      record.stopping = true;
      this.#slotChanged(record.id);
      this.#kill(record, 'SIGTERM');
      // Sent again each second (a worker's stop is idempotent): a signal that reaches a worker
      // in the first moment after its fork can be lost.
      const again = setInterval(() => this.#kill(record, 'SIGTERM'), 1000);
      record.killTimer = setTimeout(() => {
        clearInterval(again);
        this.#kill(record, 'SIGKILL');
      }, this.#options.gracefulTimeoutMs);
      const stopAgain = () => clearInterval(again);
      record.exited.then(stopAgain, stopAgain);
      this.#conditions.changed();
    }
    return record.exited;
  }

  /** Replaces the workers one by one (next generation), each once its successor accepts. */
  reload(): Promise<void> {
    if (this.#closing !== null)
      return Promise.reject(argError(Error, 'ERR_SERVER_CLOSED', 'prefork server is closed'));
    this.#reloading ??= this.#rollingReload().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  async #rollingReload(): Promise<void> {
    await this.ready;
    const generation = ++this.#generation;
    const retiring: Array<Promise<WaitStatus>> = [];
    for (let id = 0; id < this.#target; id++) {
      if (this.#closing !== null) break;
      const old = [...this.#records.values()].filter(
        (r) => r.id === id && !r.stopping && r.generation < generation,
      );
      if (!this.#hasLiveWorker(id, generation)) {
        const fresh = await this.#spawnReady(id, generation);
        if (fresh === null) return new Promise(() => undefined); // in the new worker
      }
      for (const record of old) retiring.push(this.#stop(record));
    }
    await Promise.all(retiring);
  }

  // A worker in slot `id` that accepts; throws if it exits first.
  async #spawnReady(id: number, generation: number): Promise<WorkerRecord | null> {
    for (;;) {
      const record = this.#spawn(id, generation);
      if (this.#inChild) return null;
      if (record === null) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      await this.#conditions.until(() => record.ready || !this.#records.has(record.pid));
      if (record.ready) return record;
      throw argError(
        Error,
        'ERR_PREFORK_RELOAD',
        `prefork reload: the new worker ${record.id} (pid ${record.pid}) exited before accepting`,
      );
    }
  }

  /** Sets the number of workers: starts new slots, stops the highest ones gracefully. */
  scale(workers: number): Promise<void> {
    checkInteger('workers', workers, 1, MAX_WORKERS);
    if (this.#closing !== null)
      return Promise.reject(argError(Error, 'ERR_SERVER_CLOSED', 'prefork server is closed'));
    this.#target = workers;
    const stopped: Array<Promise<WaitStatus>> = [];
    for (const record of this.#records.values()) {
      if (record.id >= workers) stopped.push(this.#stop(record));
    }
    this.#respawns.cancel(workers);
    // Forked from a later turn of the event loop: in a new worker, the code that called
    // scale() must not go on running.
    if (this.#bound !== null) setImmediate(() => this.#fill());
    this.#conditions.changed();
    return Promise.all(stopped).then(() => this.#conditions.until(() => this.#allReady()));
  }

  /** The number of workers scale() last asked for. */
  get target(): number {
    return this.#target;
  }

  /** Stops every worker gracefully (SIGKILL after gracefulTimeoutMs), then closes the socket. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#uninstallSignals?.();
    this.#uninstallSignals = null;
    // Closing settles `ready` (rejected if it was still pending): not an unhandled rejection.
    this.ready.catch(() => undefined);
    await this.#binding;
    if (this.#beatTimer !== null) clearInterval(this.#beatTimer);
    this.#respawns.cancel();
    this.#conditions.rejectAll(argError(Error, 'ERR_SERVER_CLOSED', 'prefork server closed'));
    await Promise.all([...this.#records.values()].map((record) => this.#stop(record)));
    if (this.#bound !== null) unbind(this.#bound);
    this.#balance.close();
    if (this.#masterWatch !== null) {
      for (const fd of this.#masterWatch) fs.closeSync(fd);
      this.#masterWatch = null;
    }
    this.emit('close');
  }

  /**
   * Re-executes the master's program with the listening socket kept open (SIGUSR2): the new
   * master adopts the socket and starts its workers; this one closes once they accept.
   */
  handOver(): Promise<number> {
    if (this.#closing !== null || this.#bound === null) {
      return Promise.reject(argError(Error, 'ERR_SERVER_CLOSED', 'prefork server is not running'));
    }
    if (this.#handingOver) {
      return Promise.reject(
        argError(Error, 'ERR_PREFORK_HANDOVER', 'a hand-over is already under way'),
      );
    }
    this.#handingOver = true;
    const bound = this.#bound;
    return handOver(bound, () => {
      bound.path = null; // the socket file is the new master's now
      return this.close();
    }).finally(() => {
      this.#handingOver = false;
    });
  }
}
