#!/usr/bin/env -S node --single-threaded
// Seed 002, cure 3: "fork() two times / Python implementation of a daemon" — the seed's
// daemonize(pid_file), step by step on this library's low-level calls, with each step mapped to
// the seed's Python line and to the SysV steps of daemon(7). The daemon then works for a few
// seconds (it writes nothing: its stdio is /dev/null) and ends, removing its pidfile.
//
//   node --single-threaded dist/examples/daemon.js [--pid-file FILE] [--seconds N] [--library]
//
// --library runs the same program through daemonize(), which also does the steps the seed
// skips (daemon(7) 1-4: close inherited fds, reset signals and the signal mask, environment;
// 14-15: the launcher waits until the daemon is ready) and locks its pidfile.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { daemonize, dup2, ensureForkSafe, fork, setsid, umask } from '../src';

// fork() keeps running JavaScript in the child only in the fork-safe mode: re-executes this
// script under `node --single-threaded` if it was started without it.
ensureForkSafe();

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}
const pidFile = path.resolve(option('--pid-file', path.join(os.tmpdir(), 'posix-fork-example.pid')));
const seconds = Number(option('--seconds', '10'));

function seedDaemonize(pidFilePath: string): void {
  // Seed: pid = os.fork(); if pid: sys.exit(0)
  // daemon(7) 5: fork() to create a background process; the original process exits (15), here
  // at once, without waiting for the daemon to be ready.
  if (fork() > 0) process.exit(0);

  // Seed: os.chdir('/')            daemon(7) 11: do not keep any mount point busy.
  process.chdir('/');
  // Seed: os.umask(0)              daemon(7) 10: files get exactly the mode the daemon asks
  // for. (0 is the recipe's value; daemonize() takes { umask: 0o022 } for a safer default.)
  umask(0);
  // Seed: os.setsid()              daemon(7) 6: a new session, detached from the terminal.
  setsid();

  // Seed: _pid = os.fork(); if _pid: sys.exit(0)
  // daemon(7) 7-8: fork again and let the session leader exit, so the daemon is not a session
  // leader and can never reacquire a controlling terminal.
  if (fork() > 0) process.exit(0);

  // Seed: sys.stdout.flush(); sys.stderr.flush()
  // Node writes stdout/stderr synchronously to files, pipes and terminals on Linux: there is
  // no buffer to flush.
  // Seed: os.dup2(read_null, 0); os.dup2(write_null, 1); os.dup2(write_null, 2)
  // daemon(7) 9: connect /dev/null to standard input, output and error.
  const readNull = fs.openSync('/dev/null', 'r');
  const writeNull = fs.openSync('/dev/null', 'w');
  dup2(readNull, 0);
  dup2(writeNull, 1);
  dup2(writeNull, 2);
  // The step Node needs beyond the classic recipe: on a terminal, process.stdout and
  // process.stderr do not write through fd 1 and 2. libuv opened the terminal again as a
  // descriptor of their own (to make it non-blocking), which the dup2 calls above leave on
  // the terminal: console.log would still reach it, and the daemon would keep it open (a
  // terminal session waits for it). Point those descriptors at /dev/null too, as daemonize()
  // does. (`_handle.fd` is Node's internal handle: the only way to reach that descriptor.)
  for (const stream of [process.stdout, process.stderr]) {
    const fd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (stream.isTTY && typeof fd === 'number' && fd > 2) dup2(writeNull, fd);
  }
  fs.closeSync(readNull);
  fs.closeSync(writeNull);

  // Seed: with open(pid_file, 'w+') as f: f.write(str(os.getpid()))
  // daemon(7) 12: write the daemon PID to a PID file. (The seed truncates without a lock, so two
  // launches can both "win"; daemonize() locks the file first.)
  fs.writeFileSync(pidFilePath, `${process.pid}\n`);

  // Seed: atexit.register(os.remove, pid_file)   — Node's equivalent is the 'exit' event.
  process.on('exit', () => {
    try {
      fs.unlinkSync(pidFilePath);
    } catch {
      // already removed
    }
  });
}

if (process.argv.includes('--library')) {
  // Every step above and daemon(7) 1-4 and 14-15; returns only in the daemon.
  const daemon = daemonize({ pidFile, waitForReady: true });
  daemon.ready();
} else {
  console.log(`launcher ${process.pid}: daemonizing; the daemon writes its pid to ${pidFile}`);
  seedDaemonize(pidFile);
}

// The daemon's work: here, just staying alive for a while. Its parent is now init (or the
// nearest subreaper): `ps -o pid,ppid,sid,tty,cmd -p $(cat FILE)` shows it.
setTimeout(() => process.exit(0), seconds * 1000);
