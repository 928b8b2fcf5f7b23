// Long-running fixtures for the server tests: a node process in its own process group whose
// output is read line by line while it runs, killed with its whole group at teardown; and
// what /proc says about a process's children.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import { FORK_SAFE_FLAGS, ROOT, killGroup } from './helpers';

const started = new Set<number>();

export interface RunningNode {
  pid: number;
  child: ChildProcess;
  output(): string;
  /** Resolves with the first match of `pattern` in stdout+stderr (waits for it). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node --single-threaded …args` in a new process group, left running. */
export function startNode(args: string[], env: NodeJS.ProcessEnv = {}): RunningNode {
  const child = spawn(process.execPath, [...FORK_SAFE_FLAGS, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid as number;
  started.add(pid);
  let text = '';
  const waiters: Array<() => void> = [];
  const append = (chunk: string) => {
    text += chunk;
    for (const waiter of [...waiters]) waiter();
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const waiter of [...waiters]) waiter();
    });
  });
  return {
    pid,
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 30000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = text.match(pattern);
          if (match) {
            done();
            resolve(match);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`process ended before ${pattern}; output:\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
        };
        waiters.push(check);
        check();
      });
    },
  };
}

/** Kills every process group startNode() started. */
export function killStarted(): void {
  for (const pgid of started) killGroup(pgid);
  started.clear();
}

interface Stat {
  pid: number;
  ppid: number;
  pgrp: number;
  state: string;
}

function stat(pid: number): Stat | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { pid, state: fields[0], ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

function allProcesses(): Stat[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => stat(Number(name)))
    .filter((s): s is Stat => s !== null);
}

/** The children of `pid`, with their states. */
export function childrenOf(pid: number): Stat[] {
  return allProcesses().filter((p) => p.ppid === pid);
}

/** The processes of process group `pgid`. */
export function groupMembers(pgid: number): Stat[] {
  return allProcesses().filter((p) => p.pgrp === pgid && p.state !== 'Z');
}

/** Whether `pid` is alive (not gone, not a zombie). */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One line-protocol session: the greeting, then a reply per line sent, until the peer closes. */
export function talk(port: number, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(lines.map((l) => `${l}\n`).join('')));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\n').filter((l) => l !== '')));
    socket.setTimeout(30000, () => socket.destroy(new Error('no answer in 30 s')));
  });
}

/** GET http://127.0.0.1:port/path: status and body. A fresh connection each time. */
export function get(
  port: number,
  path = '/',
  timeoutMs = 30000,
  agent: http.Agent | false = false,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer in ${timeoutMs} ms`)));
  });
}
