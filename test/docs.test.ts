// Every whole program in README.md and docs/*.md runs here as written, so that no recipe
// silently does nothing. A block is a whole program when its fence says so:
//
//   ```js run           a CommonJS program (an ES module when a line starts with import/export)
//   ```ts run           TypeScript, transpiled to CommonJS with the repository's TypeScript
//   ```js file=app.js   not run: saved as app.js for the `sh run` blocks of the same page
//   ```sh run           shell commands, run with `sh -e` in the page's directory
//
// and each carries one or more `// prints: TEXT` lines (`# prints: TEXT` in shell) that must
// appear in its stdout, in that order; it must exit 0. A `#!/usr/bin/env -S node FLAGS`
// shebang gives node's flags. The programs are written into a directory inside the
// repository, where `require('posix-fork')` resolves to this package (its self-reference).
// Shell blocks find `npx posix-fork` as a shim that runs this checkout's CLI directly (the
// real npx resolves to the same file, but takes seconds to start on a loaded machine).
// Each run carries a token in its environment: any process still holding it afterwards
// (a daemon left running, a stray child) fails the test and is killed.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { ROOT, TIME_SCALE } from './helpers';

/** How long one program may run (times TIME_SCALE, as for every test under emulation). */
const TIMEOUT_MS = 20000 * TIME_SCALE;
const TOKEN_NAME = 'POSIX_FORK_DOCS_TEST';

interface Block {
  page: string;
  line: number;
  lang: 'js' | 'ts' | 'sh';
  /** Saved under this name for the shell blocks after it (`file=NAME`), or null. */
  fileName: string | null;
  /** Run as a program (`run`); a `file=` block without `run` is only saved. */
  run: boolean;
  code: string;
  expected: string[];
}

/** The fenced blocks marked `run` or `file=` in one Markdown page. */
function runnableBlocks(page: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)\s*(.*)$/.exec(lines[i]);
    if (open === null) continue;
    const [, indent, fence, lang, rest] = open;
    const body: string[] = [];
    let j = i + 1;
    while (
      j < lines.length &&
      !(lines[j].startsWith(indent + fence) && lines[j].trim() === fence)
    ) {
      body.push(lines[j].slice(indent.length));
      j++;
    }
    const run = /(?:^|\s)run(?:\s|$)/.test(rest);
    const file = /(?:^|\s)file=(\S+)/.exec(rest);
    if (run || file !== null) {
      if (file !== null && lang === 'sh')
        throw new Error(`${page}:${i + 1}: a shell block cannot be a file=`);
      if (lang !== 'js' && lang !== 'ts' && lang !== 'sh') {
        throw new Error(`${page}:${i + 1}: a runnable block must be js, ts or sh, not '${lang}'`);
      }
      const marker = lang === 'sh' ? /^\s*#\s*prints:\s?(.*)$/ : /\/\/\s*prints:\s?(.*)$/;
      const expected = body.map((l) => marker.exec(l)?.[1].trim()).filter((m): m is string => !!m);
      blocks.push({
        page,
        line: i + 1,
        lang,
        fileName: file?.[1] ?? null,
        run,
        code: body.join('\n') + '\n',
        expected,
      });
    }
    i = j;
  }
  return blocks;
}

function pages(): string[] {
  const docs = path.join(ROOT, 'docs');
  const list = fs.existsSync(docs)
    ? fs
        .readdirSync(docs)
        .filter((f) => f.endsWith('.md'))
        .sort()
    : [];
  return ['README.md', ...list.map((f) => path.join('docs', f))];
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** A directory with an `npx` that runs `posix-fork` from dist/ and anything else with npx. */
function npxShim(dir: string): string {
  const bin = path.join(dir, '.bin');
  fs.mkdirSync(bin, { recursive: true });
  const cli = path.join(ROOT, 'dist', 'src', 'cli', 'index.js');
  const realNpx =
    (process.env.PATH ?? '')
      .split(path.delimiter)
      .map((d) => path.join(d, 'npx'))
      .find((candidate) => fs.existsSync(candidate)) ?? 'npx';
  fs.writeFileSync(
    path.join(bin, 'npx'),
    `#!/bin/sh\nif [ "$1" = posix-fork ]; then shift; exec "${process.execPath}" "${cli}" "$@"; fi\n` +
      `exec "${realNpx}" "$@"\n`,
    { mode: 0o755 },
  );
  return bin;
}

/** Runs `file args` in its own process group; on timeout the whole group is killed. */
function run(file: string, args: string[], cwd: string, token: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        [TOKEN_NAME]: token,
        NO_COLOR: '1',
        PATH: `${npxShim(cwd)}${path.delimiter}${process.env.PATH ?? ''}`,
      },
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Pids of live processes whose environment holds our token (zombies have none). */
function processesWithToken(token: string): number[] {
  if (process.platform !== 'linux') return []; // /proc/<pid>/environ is Linux's
  const needle = Buffer.from(`${TOKEN_NAME}=${token}\0`);
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`).includes(needle)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not readable
    }
  }
  return found;
}

/** The expected texts in order: each found after the previous one. */
function missingOutput(stdout: string, expected: string[]): string | null {
  let from = 0;
  for (const text of expected) {
    const at = stdout.indexOf(text, from);
    if (at < 0) return text;
    from = at + text.length;
  }
  return null;
}

function nodeFlags(code: string): string[] {
  const shebang = /^#!\/usr\/bin\/env -S node((?: --?[\w-]+(?:=\S+)?)*)\s*$/m.exec(
    code.split('\n')[0],
  );
  return shebang === null ? [] : shebang[1].trim().split(/\s+/).filter(Boolean);
}

function write(dir: string, block: Block, index: number): { file: string; args: string[] } {
  if (block.lang === 'sh') {
    const file = path.join(dir, `block-${index}.sh`);
    fs.writeFileSync(file, block.code);
    return { file: 'sh', args: ['-e', file] };
  }
  let source = block.code;
  let ext = /^(import|export)\s/m.test(source) ? '.mjs' : '.js';
  if (block.lang === 'ts') {
    source = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2021,
        esModuleInterop: true,
      },
    }).outputText;
    ext = '.js';
  }
  const name = block.fileName ?? `block-${index}${ext}`;
  const file = path.join(dir, name);
  fs.writeFileSync(file, source);
  return { file: process.execPath, args: [...nodeFlags(block.code), file] };
}

/** The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces to -). */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let inFence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(`{3,}|~{3,})/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^#{1,6}\s+(.*?)\s*#*$/.exec(line);
    if (heading === null) continue;
    const base = heading[1]
      .replace(/\\(.)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Relative links of a page (outside code) whose file or anchor does not exist. */
function brokenLinks(page: string, text: string): string[] {
  const prose = text.replace(/^\s*(`{3,}|~{3,})[\s\S]*?^\s*\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  const broken: string[] = [];
  for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target)) continue;
    const [file, anchor] = target.split('#');
    const resolved =
      file === '' ? path.join(ROOT, page) : path.resolve(path.dirname(path.join(ROOT, page)), file);
    if (!fs.existsSync(resolved)) broken.push(target);
    else if (
      anchor !== undefined &&
      resolved.endsWith('.md') &&
      !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)
    ) {
      broken.push(target);
    }
  }
  return broken;
}

const all = pages().flatMap((page) =>
  runnableBlocks(page, fs.readFileSync(path.join(ROOT, page), 'utf8')),
);
const scratch = path.join(ROOT, 'tmp');

describe('runnable blocks in README.md and docs/', () => {
  const dirs = new Map<string, string>();

  afterAll(() => {
    for (const dir of dirs.values()) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds the recipes (README has at least five)', () => {
    expect(all.filter((b) => b.page === 'README.md').length).toBeGreaterThanOrEqual(5);
  });

  it('has no broken relative link or anchor', () => {
    const broken = pages().flatMap((page) =>
      brokenLinks(page, fs.readFileSync(path.join(ROOT, page), 'utf8')).map(
        (link) => `${page}: ${link}`,
      ),
    );
    expect(broken).toEqual([]);
  });

  // The programs run concurrently, each page's in a directory of its own, where its `file=`
  // blocks are saved before any of them runs.
  const programs = all.map((block, index) => ({ block, index })).filter(({ block }) => block.run);

  it.concurrent.each(
    programs.map(({ block, index }) => [`${block.page}:${block.line}`, block, index] as const),
  )(
    '%s',
    async (_where, block, index) => {
      if (block.expected.length === 0)
        throw new Error(`${block.page}:${block.line}: no "prints:" line`);
      let dir = dirs.get(block.page);
      if (dir === undefined) {
        fs.mkdirSync(scratch, { recursive: true });
        dir = fs.mkdtempSync(path.join(scratch, `docs-${path.basename(block.page, '.md')}-`));
        dirs.set(block.page, dir);
      }
      all.forEach((other, i) => {
        if (other.page === block.page && !other.run) write(dir as string, other, i);
      });
      const { file, args } = write(dir, block, index);
      const token = `${process.pid}-${index}-${Date.now()}`;
      const outcome = await run(file, args, dir, token);
      const leftover = processesWithToken(token);
      for (const pid of leftover) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // ended meanwhile
        }
      }
      const problems = [
        outcome.timedOut ? `did not end within ${TIMEOUT_MS} ms` : '',
        outcome.code !== 0 ? `ended with code ${outcome.code}, signal ${outcome.signal}` : '',
        missingOutput(outcome.stdout, block.expected) !== null
          ? `did not print "${missingOutput(outcome.stdout, block.expected)}"`
          : '',
        leftover.length > 0 ? `left processes behind: ${leftover.join(', ')} (killed)` : '',
      ].filter(Boolean);
      if (problems.length > 0) {
        throw new Error(
          `${block.page}:${block.line}: ${problems.join('; ')}\n` +
            `--- stdout\n${outcome.stdout}--- stderr\n${outcome.stderr}`,
        );
      }
    },
    TIMEOUT_MS + 15000,
  );
});
