#!/usr/bin/env node
// The `posix-fork` command: live teaching demos, a daemon manager (daemon/status/stop), a
// reaping init (reap) and a fork-safe launcher (run). Subcommands that fork in this process
// (demo, reap) first re-execute it, same pid, in the fork-safe mode (FORK_SAFE_FLAGS).
import { Command, CommanderError, Option } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { ensureForkSafe } from '../index';
import { PidProof } from '../pidfile';
import { daemonStatus, parseSeconds, startDaemon, stopDaemon } from './daemon';
import { DemoOutput } from './demos/context';
import { DEMOS, findDemo } from './demos/index';
import { CliError, USAGE_EXIT, errorLine, makeStyle, wantsColor } from './output';
import { reap } from './reap';
import { runScript } from './run';
import { parseWorkers, serve } from './serve';

function packageVersion(): string {
  try {
    const file = path.join(__dirname, '..', '..', '..', 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function log(command: string): (line: string) => void {
  return (line) => process.stderr.write(`posix-fork ${command}: ${line}\n`);
}

function demoList(colour: boolean): string {
  const style = makeStyle(colour);
  const width = Math.max(...DEMOS.map((demo) => demo.name.length));
  return DEMOS.map((demo) => `  ${style.bold(demo.name.padEnd(width))}  ${demo.summary}`).join(
    '\n',
  );
}

function buildProgram(): Command {
  const program = new Command();
  program
    .name('posix-fork')
    .description('Real POSIX fork(), waitpid(), setsid() and daemons for Node.js, live.')
    .version(packageVersion(), '-V, --version')
    .option('--color', 'colour the output even when it is not a terminal')
    .option('--no-color', 'never colour the output (also: NO_COLOR=1)')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      `
Start here:
  npx posix-fork demo zombie

Demos:
${demoList(false)}`,
    );

  const colourFlag = (): boolean | undefined => program.opts<{ color?: boolean }>().color;

  program
    .command('demo')
    .description('run a live demo of a Unix process recipe (without a name: list them)')
    .argument('[name]', `one of: ${DEMOS.map((demo) => demo.name).join(', ')}`)
    .addHelpText('after', `\nDemos:\n${demoList(false)}`)
    .action(async (name: string | undefined) => {
      const colour = wantsColor(process.stdout, colourFlag());
      if (name === undefined) {
        print(`Demos (run one with: posix-fork demo <name>):\n${demoList(colour)}`);
        return;
      }
      const demo = findDemo(name);
      if (demo === undefined) {
        throw new CliError(
          `unknown demo '${name}'; the demos are: ${DEMOS.map((d) => d.name).join(', ')}`,
          USAGE_EXIT,
        );
      }
      ensureForkSafe(); // the demos fork in this process
      // A pseudo-terminal without a size (script(1) on a pipe) says 0 columns: no cutting then.
      const columns = process.stdout.isTTY ? process.stdout.columns : 0;
      const width = columns >= 40 ? columns : undefined;
      await demo.run(new DemoOutput(makeStyle(colour), width));
    });

  program
    .command('daemon')
    .description(
      'run a command as a daemon: double fork, setsid, umask, cwd, stdio, pidfile, then exec it',
    )
    .usage('[options] -- <command> [args...]')
    .argument('<command...>', 'the command to daemonize, and its arguments')
    .option(
      '--pidfile <file>',
      "write the daemon's pid here, locked while it runs (refuses to start twice)",
    )
    .option('--stdout <file>', "append the command's stdout to this file (default: /dev/null)")
    .option('--stderr <file>', "append the command's stderr to this file (default: /dev/null)")
    .option('--cwd <dir>', 'working directory of the daemon', '/')
    .option('--umask <mask>', 'file-mode creation mask, octal', '022')
    .option(
      '--wait-ready',
      'return only once the daemon is set up and about to exec the command; print its error and exit 1 if it fails first',
    )
    .option('--no-detach', 'do not fork: become the daemon in place (under a supervisor)')
    .passThroughOptions()
    .addHelpText(
      'after',
      `
The launcher exits 0 once the daemon has written its pidfile; the pid stays the same
when the daemon execs the command. Exit statuses: 0 started; 1 already running or the
daemon failed; 2 usage; 126 command not executable; 127 command not found.

Example:
  posix-fork daemon --pidfile /tmp/web.pid --stdout /tmp/web.log -- python3 -m http.server 8000`,
    )
    .action((command: string[], options: Parameters<typeof startDaemon>[1]) => {
      startDaemon(command, options);
    });

  program
    .command('status')
    .description('is the daemon of a pidfile running? (LSB exit status)')
    .requiredOption('--pidfile <file>', "the daemon's pidfile")
    .addOption(proofOption('exec'))
    .addOption(proofOption('name'))
    .addHelpText(
      'after',
      `
Running means: the pid in the file is alive with the start time recorded beside it.
Exit statuses (as LSB init scripts): 0 running; 1 not running but the pidfile exists
(stale, or the daemon died and processes of its session remain); 3 not running (no
pidfile); 4 unknown (the pidfile cannot be read or trusted, or its pid cannot be proven).`,
    )
    .action((options: { pidfile: string; exec?: string; name?: string }) => {
      process.exitCode = daemonStatus(options.pidfile, proofOf(options), print);
    });

  program
    .command('stop')
    .description('stop the daemon of a pidfile: SIGTERM, SIGKILL after a timeout, wait until gone')
    .requiredOption('--pidfile <file>', "the daemon's pidfile")
    .option('--timeout <seconds>', 'seconds to wait after SIGTERM before SIGKILL', parseSeconds, 10)
    .addOption(proofOption('exec'))
    .addOption(proofOption('name'))
    .addHelpText(
      'after',
      `
Ends the whole service: the daemon and every process of its session. Signals nothing
without proof (the recorded start time, or --exec/--name for a plain pid).
Removes the pidfile when the daemon has not (a stale pidfile is removed too).
Exit statuses: 0 stopped, or was not running; 1 failed; 2 usage; 4 no proof, or not permitted.`,
    )
    .action((options: { pidfile: string; timeout: number; exec?: string; name?: string }) => {
      process.exitCode = stopDaemon(options.pidfile, options.timeout, proofOf(options), print);
    });

  program
    .command('reap')
    .description(
      'run a command under a small init (like tini): forward signals, reap every orphan, exit with its status',
    )
    .usage('[options] -- <command> [args...]')
    .argument('<command...>', 'the command to run, and its arguments')
    .option(
      '--subreaper',
      'become a child subreaper (Linux): orphaned descendants are re-parented here and reaped',
    )
    .option(
      '-g, --group',
      'run the command in its own process group and forward signals to the whole group',
    )
    .option('-v, --verbose', 'report on stderr what is forwarded and reaped')
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Forwarded signals: SIGHUP SIGINT SIGQUIT SIGTERM SIGUSR1 SIGUSR2 SIGWINCH SIGALRM SIGCONT.
Exit status: the command's exit code, or 128+N when signal N ended it; 126/127 when it
cannot be executed; 2 usage.

Example:
  posix-fork reap --subreaper -- npm start`,
    )
    .action(
      async (
        command: string[],
        options: { subreaper?: boolean; group?: boolean; verbose?: boolean },
      ) => {
        ensureForkSafe(); // reap forks the command's process in this process
        const code = await reap(command, options, log('reap'));
        process.exit(code);
      },
    );

  program
    .command('run')
    .description(
      'run a Node script in the fork-safe mode (node --single-threaded), in this very process',
    )
    .argument('<script>', 'the script to run')
    .argument('[args...]', 'its arguments')
    .passThroughOptions()
    .addHelpText(
      'after',
      `
Replaces this process (same pid) with:
  node --single-threaded --v8-pool-size=1 <script> [args...]
The status is the script's own.

Example:
  posix-fork run server.js --port 8080`,
    )
    .action((script: string, args: string[]) => {
      runScript(script, args);
    });

  program
    .command('serve')
    .description('serve a Node app with prefork(): N forked workers on one listening socket')
    .argument(
      '<app>',
      'a module exporting a request handler (req, res) or a serve({ listen, id, generation }) function',
    )
    .option('--workers <n>', 'how many workers (default: the number of CPUs)', parseWorkers)
    .option('--listen <where>', 'PORT, HOST:PORT or a unix socket path', '8080')
    .option('--pidfile <file>', "write the master's pid here, locked while it runs")
    .addHelpText(
      'after',
      `
The app is loaded once, in the master, then shared copy-on-write by every worker.
Signals to the master: SIGHUP reloads the workers one by one; SIGTTIN/SIGTTOU add or
remove one; SIGUSR2 re-executes the master keeping the socket; SIGTERM/SIGINT stop
gracefully.

Example:
  posix-fork serve app.js --workers 4 --listen 8080`,
    )
    .action(
      async (app: string, options: { workers?: number; listen: string; pidfile?: string }) => {
        ensureForkSafe(); // the workers are forked in this process
        await serve(app, options, log('serve'));
      },
    );

  // One output configuration object is shared by the program and its subcommands.
  program.configureOutput({
    outputError: (text, write) => {
      const name = subcommandOf(process.argv, program);
      write(`posix-fork${name ? ` ${name}` : ''}: ${text.replace(/^error: /, '')}`);
    },
  });
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** --exec/--name: the proof of identity a plain pid needs (status and stop). */
function proofOption(kind: 'exec' | 'name'): Option {
  const what = kind === 'exec' ? 'run this executable' : 'have this name';
  const flags = kind === 'exec' ? '--exec <path>' : '--name <name>';
  return new Option(flags, `for a plain pid written by another program: the process must ${what}`);
}

function proofOf(options: { exec?: string; name?: string }): PidProof {
  const proof: PidProof = {};
  if (options.exec !== undefined) proof.exec = options.exec;
  if (options.name !== undefined) proof.name = options.name;
  return proof;
}

/** Which subcommand argv names, for error lines. */
function subcommandOf(argv: readonly string[], program: Command): string {
  const names = new Set(program.commands.map((command) => command.name()));
  return argv.slice(2).find((arg) => names.has(arg)) ?? '';
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the help, the version or the usage error already. Help asked
      // for ends with 0, help shown for a bare `posix-fork` with 1, usage errors with 2.
      const shown = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(
        error.code,
      );
      process.exitCode = shown ? error.exitCode : USAGE_EXIT;
      return;
    }
    // A Process child leaving the parent's code: not an error (see Process.start()).
    if ((error as { code?: unknown }).code === 'ERR_PROCESS_CHILD_UNWIND') throw error;
    process.stderr.write(`${errorLine(subcommandOf(process.argv, program), error)}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}

void main();
