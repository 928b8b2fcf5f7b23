// `posix-fork run script.js [args…]`: this process becomes `node <FORK_SAFE_FLAGS> script.js
// args…` (execve, same pid), the fork-safe mode the library asks for. The script inherits what
// this process was started with: its descriptors and its child_process IPC channel.
import * as fs from 'fs';
import * as path from 'path';
import { FORK_SAFE_FLAGS, inheritedChannel, inheritedFds } from '../forksafe';
import { execProgram } from './exec';
import { CliError, USAGE_EXIT } from './output';

/** Node would resolve `script` as a file, adding .js/.cjs/.mjs or /index.js as require() does. */
function scriptExists(script: string): boolean {
  const file = path.resolve(script);
  const candidates = [
    file,
    `${file}.js`,
    `${file}.cjs`,
    `${file}.mjs`,
    path.join(file, 'index.js'),
  ];
  return candidates.some((candidate) => {
    try {
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

/** Replaces this process with node in the fork-safe mode running `script`. Never returns. */
export function runScript(script: string, args: readonly string[]): never {
  if (!scriptExists(script)) throw new CliError(`cannot find script '${script}'`, USAGE_EXIT);
  const execArgv = process.execArgv.filter((flag) => !FORK_SAFE_FLAGS.includes(flag));
  const argv = [process.execPath, ...FORK_SAFE_FLAGS, ...execArgv, script, ...args];
  const channel = inheritedChannel();
  const inheritFds = inheritedFds();
  if (channel !== null && !inheritFds.includes(channel.fd)) inheritFds.push(channel.fd);
  const env = { ...process.env, ...channel?.env };
  try {
    return execProgram(process.execPath, argv, { resetSignals: false, inheritFds, env });
  } catch (error) {
    throw new CliError(`cannot execute ${process.execPath}: ${(error as Error).message}`, 126);
  }
}
