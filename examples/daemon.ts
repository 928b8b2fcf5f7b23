// A daemon by the classic recipe, step by step on the library's low-level calls, each step
// named after daemon(7)'s list. The daemon then works for a while (it writes nothing: its
// stdio is /dev/null) and ends, removing its pidfile; `kill -TERM $(cat FILE)` ends it sooner.
//
//   node dist/examples/daemon.js [--pid-file FILE] [--seconds N] [--library]
//
// --library runs the same program through daemonize(), which also does the steps the classic
// recipe skips (daemon(7) 1-4: close inherited fds, reset signals and the signal mask, the
// environment; 14-15: the launcher waits until the daemon is ready) and locks its pidfile.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { daemonize, dup2, ensureForkSafe, fork, setsid, umask } from 'posix-fork';

ensureForkSafe(); // see examples/fork.ts

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at > 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}
const pidFile = path.resolve(
  option('--pid-file', path.join(os.tmpdir(), 'posix-fork-example.pid')),
);
const seconds = Number(option('--seconds', '10'));

function classicDaemonize(pidFilePath: string): void {
  // daemon(7) 5: fork() a background process; the original process exits at once (15: without
  // waiting for the daemon to be ready).
  if (fork() > 0) process.exit(0);

  // daemon(7) 11: do not keep any mount point busy.
  process.chdir('/');
  // daemon(7) 10: files get exactly the mode the daemon asks for. (0 is the recipe's value;
  // daemonize() takes { umask: 0o022 } for a safer default.)
  umask(0);
  // daemon(7) 6: a new session, detached from any terminal.
  setsid();

  // daemon(7) 7-8: fork again and let the session leader exit, so the daemon is not a session
  // leader and can never acquire a controlling terminal again.
  if (fork() > 0) process.exit(0);

  // Node writes stdout/stderr synchronously to files, pipes and terminals on Linux: there is
  // no buffer to flush before the switch.
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

  // daemon(7) 12: write the daemon's pid to a pidfile, and remove it at exit. (Written without
  // a lock, two launches can both "win"; daemonize() locks the file first.)
  process.on('exit', () => {
    try {
      fs.unlinkSync(pidFilePath);
    } catch {
      // already removed
    }
  });
  // SIGTERM, how daemons are told to stop, ends it through process.exit, so 'exit' runs.
  process.on('SIGTERM', () => process.exit(0));
  fs.writeFileSync(pidFilePath, `${process.pid}\n`);
}

if (process.argv.includes('--library')) {
  // Every step above and daemon(7) 1-4 and 14-15; returns only in the daemon.
  // It also removes the pidfile when SIGTERM, SIGINT or SIGHUP ends the daemon.
  const daemon = daemonize({ pidFile, waitForReady: true });
  daemon.ready();
} else {
  console.log(`launcher ${process.pid}: daemonizing; the daemon writes its pid to ${pidFile}`);
  classicDaemonize(pidFile);
}

// The daemon's work: here, staying alive for a while. Its parent is now init (or the nearest
// subreaper): `ps -o pid,ppid,sid,tty,cmd -p $(cat FILE)` shows it.
setTimeout(() => process.exit(0), seconds * 1000);
