// The master's one listening socket: bound once, before any worker is forked, and held as a
// bare descriptor that no handle of the master's event loop watches, so the master never
// accepts: every worker inherits the descriptor and accepts on it.
import * as fs from 'fs';
import * as net from 'net';
import { dup } from '../posix';
import { Listen } from './options';

/** Set by a master re-executing itself (SIGUSR2) for its successor: the inherited socket. */
export const HANDOVER_ENV = 'POSIX_FORK_PREFORK_HANDOVER';

export interface Bound {
  fd: number;
  /** As net.Server#address() reports it; null for a socket given as `{ fd }`. */
  address: net.AddressInfo | string | null;
  /** A unix socket path the master created, removed by close(). */
  path: string | null;
  /** Whether close() closes the descriptor (not for a caller's `{ fd }`). */
  owned: boolean;
}

export interface Handover {
  fd: number;
  address: net.AddressInfo | string | null;
  path: string | null;
  /** Where the new master writes 'R' once its workers accept. */
  notifyFd: number;
}

/** The socket a previous master handed over (SIGUSR2), taken once. */
export function takeHandover(): Handover | null {
  const text = process.env[HANDOVER_ENV];
  if (text === undefined) return null;
  delete process.env[HANDOVER_ENV];
  try {
    const handover = JSON.parse(text) as Handover;
    return Number.isInteger(handover.fd) ? handover : null;
  } catch {
    return null;
  }
}

/**
 * Binds `listen` with Node's own net.Server (same addresses, DNS, errors: EADDRINUSE with
 * code, errno, syscall, address, port), keeps a duplicate of its descriptor, and closes the
 * server: the socket stays bound and listening through the duplicate, and connections wait
 * in its backlog until a worker accepts them.
 */
export async function bindOnce(listen: Listen, inherited: Handover | null): Promise<Bound> {
  if (inherited !== null) {
    return { fd: inherited.fd, address: inherited.address, path: inherited.path, owned: true };
  }
  if (listen.kind === 'fd') return { fd: listen.fd, address: null, path: null, owned: false };
  const server = net.createServer();
  const options: net.ListenOptions =
    listen.kind === 'tcp'
      ? { port: listen.port, host: listen.host, backlog: listen.backlog }
      : { path: listen.path, backlog: listen.backlog };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const handle = (server as unknown as { _handle: { fd: number } })._handle;
  const fd = dup(handle.fd);
  const address = server.address();
  if (listen.kind === 'path') {
    // Closing a unix socket server removes its path: a second name keeps the file.
    const keep = `${listen.path}.${process.pid}.keep`;
    fs.linkSync(listen.path, keep);
    await new Promise((resolve) => server.close(resolve));
    fs.renameSync(keep, listen.path);
  } else {
    await new Promise((resolve) => server.close(resolve));
  }
  return { fd, address, path: listen.kind === 'path' ? listen.path : null, owned: true };
}

/** Closes the socket (when owned) and removes the unix socket path the master made. */
export function unbind(bound: Bound): void {
  if (bound.owned) {
    try {
      fs.closeSync(bound.fd);
    } catch {
      // Already closed.
    }
  }
  if (bound.path !== null) {
    try {
      fs.unlinkSync(bound.path);
    } catch {
      // Already removed.
    }
  }
}
