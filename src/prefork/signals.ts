// The master's signals, as unicorn and nginx use them: SIGHUP reloads the workers, SIGTTIN and
// SIGTTOU add and remove one, SIGTERM and SIGINT stop gracefully, SIGUSR2 re-executes the
// master keeping the socket. Installed in the master only; a worker removes them at once.

export interface Controllable {
  readonly target: number;
  reload(): Promise<void>;
  scale(workers: number): Promise<void>;
  close(): Promise<void>;
  handOver(): Promise<number>;
}

/** Installs the handlers (`report` gets their failures); returns the function that removes them. */
export function installSignals(server: Controllable, report: (error: Error) => void): () => void {
  // After a graceful stop the process ends, unless the program handles the signal too.
  const stop = (signal: NodeJS.Signals) => () => {
    server.close().then(() => {
      if (process.listenerCount(signal) === 0) process.exit(0);
    }, report);
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [
    ['SIGHUP', () => void server.reload().catch(report)],
    ['SIGTTIN', () => void server.scale(server.target + 1).catch(report)],
    ['SIGTTOU', () => void server.scale(Math.max(1, server.target - 1)).catch(report)],
    ['SIGTERM', stop('SIGTERM')],
    ['SIGINT', stop('SIGINT')],
    [
      'SIGUSR2',
      () => {
        server.handOver().then(() => {
          if (process.listenerCount('SIGUSR2') === 0) process.exit(0);
        }, report);
      },
    ],
  ];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.removeListener(signal, handler);
  };
}
