// Balancing connections over the workers. The kernel hands a new connection to whichever
// worker waiting on the shared socket runs first, so with keep-alive one worker can end up with
// most of them. Each worker counts the connections it serves in memory the master and every
// worker share; a worker that accepts a connection while another serves fewer hands it to the
// least busy one instead: the descriptor travels on that worker's datagram socket, and a byte
// on its stream socket wakes it. The master makes both for each slot before forking and keeps
// them, so a replacement takes over whatever was on its way to the worker it replaces.
import * as fs from 'fs';
import * as net from 'net';
import { closeQuietly } from '../fds';
import { native } from '../native';
import { MAX_WORKERS } from './options';
import { WorkerRecord } from './records';

// What each slot shares, by slot id: the connections its worker serves (counted by the worker),
// the connections on their way to it (by the workers that send and the one that receives),
// whether it takes connections (set by the master: a worker that balances, ready, not stopping).
const SERVED = 0;
const IN_FLIGHT = MAX_WORKERS;
const OPEN = 2 * MAX_WORKERS;

interface SlotChannel {
  /** The datagram pair: descriptors are received on [0] and sent to [1]. */
  socket: [number, number];
  /** The wake-up stream: a byte written to [1] for each descriptor sent, read from [0]. */
  wake: [number, number];
}

/**
 * The slot to hand a new connection to, or -1 to keep it: the open slot with the fewest
 * connections (served and on their way), if it has fewer than this worker.
 */
export function handTo(
  me: number,
  load: (id: number) => number,
  open: (id: number) => boolean,
  slots: number,
): number {
  let best = -1;
  let least = load(me);
  for (let id = 0; id < slots; id++) {
    if (id === me || !open(id)) continue;
    const l = load(id);
    if (l < least) {
      least = l;
      best = id;
    }
  }
  return best;
}

export class Balance {
  readonly #shared = new Int32Array(native.sharedMemory(3 * MAX_WORKERS * 4));
  readonly #channels: SlotChannel[] = [];
  /** The wake-up sockets serve() made in this process: each owns its descriptor. */
  readonly #wakes = new Map<number, net.Socket>();

  /** In the master, before a worker is forked: a channel for each of the `slots` first slots. */
  prepare(slots: number): void {
    while (this.#channels.length < slots) {
      this.#channels.push({ socket: native.socketPair(true), wake: native.socketPair(false) });
    }
  }

  /**
   * In the master, when a worker of slot `id` (`workers`: the ones it has now) is ready, stops
   * or exits: the slot takes connections while one of them balances, accepts and is not
   * stopping; once the last has exited, its connections are gone with it.
   */
  update(
    id: number,
    workers: ReadonlyArray<Pick<WorkerRecord, 'ready' | 'balancing' | 'stopping'>>,
  ): void {
    const open = workers.some((w) => w.ready && w.balancing && !w.stopping);
    Atomics.store(this.#shared, OPEN + id, open ? 1 : 0);
    if (workers.length === 0) Atomics.store(this.#shared, SERVED + id, 0);
  }

  /** In the master, at its close (and wherever serve() was called, with what it opened). */
  close(): void {
    for (const wake of this.#wakes.values()) wake.destroy(); // closes its descriptor at once
    for (const channel of this.#channels.splice(0)) {
      for (const fd of [...channel.socket, ...channel.wake]) {
        if (!this.#wakes.has(fd)) closeQuietly(fd);
      }
    }
    this.#wakes.clear();
  }

  /**
   * In the worker of slot `me`, once `server` accepts: from now on its connections are counted
   * and handed over. Returns what a stopping worker calls: it takes what is on its way to it
   * and leaves the slot's count to the worker that replaces it.
   */
  serve(me: number, server: net.Server): () => void {
    const shared = this.#shared;
    const channels = this.#channels;
    const emit = server.emit as (
      this: net.Server,
      event: string | symbol,
      ...args: unknown[]
    ) => boolean;
    const load = (id: number) =>
      Atomics.load(shared, SERVED + id) + Atomics.load(shared, IN_FLIGHT + id);
    const open = (id: number) => Atomics.load(shared, OPEN + id) === 1;
    let mine = 0;
    let stopped = false;
    // A connection counts until its peer ends it ('end', read in the same turn of the loop as
    // new connections) or it closes: 'close' comes a turn later, and a burst of connections
    // arriving as others end would be balanced by counts that are no longer true.
    const count = (socket: net.Socket) => {
      mine++;
      if (!stopped) Atomics.add(shared, SERVED + me, 1);
      let counted = true;
      const uncount = () => {
        if (!counted) return;
        counted = false;
        mine--;
        if (!stopped) Atomics.sub(shared, SERVED + me, 1);
      };
      socket.once('end', uncount);
      socket.once('close', uncount);
    };
    const handOver = (socket: net.Socket, to: number): boolean => {
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== 'number' || fd < 0) return false;
      Atomics.add(shared, IN_FLIGHT + to, 1);
      if (!native.sendFd(channels[to].socket[1], fd)) {
        Atomics.sub(shared, IN_FLIGHT + to, 1);
        return false;
      }
      try {
        fs.writeSync(channels[to].wake[1], 'C');
      } catch {
        // Full: it holds wake-ups already.
      }
      socket.destroy(); // the connection lives on in the other worker's copy
      return true;
    };
    server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]) {
      if (event === 'connection' && args[0] instanceof net.Socket) {
        const to = handTo(me, load, open, channels.length);
        if (to >= 0 && handOver(args[0], to)) return true;
        count(args[0]);
      }
      return emit.call(this, event, ...args);
    } as typeof server.emit;

    // Connections handed to this worker, taken as the server would take them: Node's own
    // fields set as net.Server sets them for a connection it accepts.
    const internal = server as unknown as {
      _connections: number;
      allowHalfOpen?: boolean;
      pauseOnConnect?: boolean;
    };
    const take = () => {
      for (const fd of native.receiveFds(channels[me].socket[0])) {
        Atomics.sub(shared, IN_FLIGHT + me, 1);
        const socket = new net.Socket({
          fd,
          readable: true,
          writable: true,
          allowHalfOpen: internal.allowHalfOpen,
          pauseOnCreate: internal.pauseOnConnect,
        } as net.SocketConstructorOpts);
        Object.assign(socket, { server, _server: server });
        internal._connections++;
        count(socket);
        emit.call(server, 'connection', socket);
      }
    };
    const wake = new net.Socket({ fd: channels[me].wake[0], readable: true, writable: false });
    this.#wakes.set(channels[me].wake[0], wake);
    wake.on('data', take);
    wake.on('error', () => undefined);
    wake.unref();
    take(); // what was on its way to the worker this one replaces
    return () => {
      take();
      stopped = true;
      Atomics.sub(shared, SERVED + me, mine);
    };
  }
}
