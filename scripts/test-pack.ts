// npm run test:pack — proves the published package installs and works without a compiler.
//
// 1. Stages a copy of the package sources in a temporary directory (so the repository's own
//    build/ is never rebuilt), runs `npm run prebuild` there (scripts/prebuild.sh) and checks
//    each prebuilt binary: one per directory, an ELF file for its CPU, stripped. On linux-x64
//    those are linux-x64 and the cross-compiled linux-arm64. node-gyp-build must resolve the
//    host's with PREBUILDS_ONLY=1.
// 2. `npm pack`s it and checks the file list: what users need (every prebuilt binary), nothing else.
// 3. Installs the tarball into a fresh project with a PATH that holds only node, npm and sh
//    (no cc, g++, make or python) and npm_config_build_from_source unset, so the install
//    succeeds only if the prebuilt binary is used.
// 4. There, under `node --single-threaded` with PREBUILDS_ONLY=1, runs a fork + waitpid round
//    trip through require() and through import, runs `posix-fork demo fork` (the command and
//    the example it runs, from the installed package), and type-checks a CommonJS and an ESM
//    consumer with tsc (nodenext, bundler and node10 resolution).
// --node <file> runs steps 3 and 4 with that Node binary (npm included) instead of this one:
// npm run test:arm64 passes the arm64 Node, run under qemu, so the install must pick
// prebuilds/linux-arm64. Waits are multiplied by $POSIX_FORK_TEST_TIME_SCALE, as in the tests.
// Temporary directories are removed at the end (keep them with --keep).
//
//   node dist/scripts/test-pack.js [--keep] [--node <file>]
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, cleanEnv, npmCli, printedHelp, runOk } from './lib';

/** What the package build needs; everything else in the repository stays out of the stage. */
const STAGED = [
  'package.json',
  'binding.gyp',
  'native',
  'scripts/prebuild.sh',
  'scripts/arm64-setup.sh',
  'src',
  'examples',
  'esm',
  'tsconfig.json',
  'tsconfig.build.json',
  'README.md',
  'LICENSE',
];
const COMPILERS = ['cc', 'gcc', 'c++', 'g++', 'clang', 'make', 'python', 'python3'];
const PLATFORM_DIR = `${process.platform}-${process.arch}`;
/** The prebuilt binaries `npm run prebuild` makes here: linux-x64 also cross-compiles linux-arm64. */
const PREBUILT_DIRS = PLATFORM_DIR === 'linux-x64' ? ['linux-x64', 'linux-arm64'] : [PLATFORM_DIR];
/** ELF e_machine of each CPU a prebuilt binary is made for. */
const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183 };
const TIME_SCALE = Math.max(1, Number(process.env.POSIX_FORK_TEST_TIME_SCALE) || 1);

/**
 * Checks that `file` is a 64-bit little-endian ELF shared object for `arch` with no symbol
 * table left (stripped). Returns a short description; throws when it is not so.
 */
function checkElf(file: string, arch: string): string {
  const data = fs.readFileSync(file);
  if (data.readUInt32BE(0) !== 0x7f454c46 || data[4] !== 2 || data[5] !== 1)
    throw new Error(`${file}: not a 64-bit LE ELF file`);
  const machine = data.readUInt16LE(18);
  if (machine !== ELF_MACHINE[arch])
    throw new Error(`${file}: e_machine ${machine}, expected ${ELF_MACHINE[arch]} (${arch})`);
  const shoff = Number(data.readBigUInt64LE(0x28));
  const shentsize = data.readUInt16LE(0x3a);
  const shnum = data.readUInt16LE(0x3c);
  for (let i = 0; i < shnum; i++) {
    const type = data.readUInt32LE(shoff + i * shentsize + 4);
    if (type === 2) throw new Error(`${file}: has a symbol table (SHT_SYMTAB): not stripped`);
  }
  return `${arch} ELF, stripped, ${(data.length / 1024).toFixed(0)} KiB`;
}

function findOnPath(command: string, pathValue: string): string | null {
  for (const dir of pathValue.split(path.delimiter)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

type Step = { name: string; ok: boolean; detail: string };
const steps: Step[] = [];

async function step(name: string, body: () => Promise<string | void> | string | void) {
  try {
    const detail = (await body()) ?? '';
    steps.push({ name, ok: true, detail });
    console.log(`ok    ${name}${detail ? ` — ${detail}` : ''}`);
  } catch (error) {
    steps.push({ name, ok: false, detail: String(error) });
    console.log(`FAIL  ${name}\n${error instanceof Error ? error.message : String(error)}`);
    throw error;
  }
}

const CONSUMER_CJS = `
const path = require('path');
const { fork, waitpid, isForkSafe } = require('posix-fork');
const packageDir = path.dirname(require.resolve('posix-fork/package.json'));
const binary = require('node-gyp-build').path(packageDir);
const pid = fork();
if (pid === 0) {
  // The child keeps running JavaScript: a timer, then an exit code through process.exit.
  setTimeout(() => process.exit(40 + 2), 5);
} else {
  const status = waitpid(pid);
  console.log(JSON.stringify({ entry: require.resolve('posix-fork'), binary, forkSafe: isForkSafe(),
    childPid: pid, status }));
}
`;

const CONSUMER_ESM = `
import { createRequire } from 'module';
import api, { fork, waitpid, isForkSafe } from 'posix-fork';
const require = createRequire(import.meta.url);
const pid = fork();
if (pid === 0) {
  setTimeout(() => { process.exitCode = 43; }, 5);
} else {
  const status = waitpid(pid);
  console.log(JSON.stringify({ sameInstance: api.fork === fork && api === require('posix-fork'),
    forkSafe: isForkSafe(), childPid: pid, status }));
}
`;

const TYPES_CJS = `
import { fork, waitpid, WNOHANG, type WaitStatus } from 'posix-fork';
import api = require('posix-fork');
const pid: number = fork();
const status: WaitStatus | null = waitpid(pid, WNOHANG);
const code: number | null = status === null ? null : status.exitCode;
const same: typeof fork = api.fork;
// @ts-expect-error fork() returns a number: this line proves the types are real, not any.
const wrong: string = fork();
export { code, same, wrong };
`;

const TYPES_ESM = `
import api, { fork, waitpid, type WaitStatus } from 'posix-fork';
const pid: number = fork();
const status: WaitStatus | null = waitpid(pid);
const same: typeof fork = api.fork;
// @ts-expect-error waitpid() needs a pid.
waitpid();
export { status, same };
`;

const USAGE = `
usage: node dist/scripts/test-pack.js [--keep] [--node <file>]
  --keep         keep the temporary directories
  --node <file>  install the tarball and run the consumers with this Node binary`;

async function main(): Promise<void> {
  if (printedHelp(USAGE)) return;
  const keep = process.argv.includes('--keep');
  const nodeIndex = process.argv.indexOf('--node');
  /** The Node that installs the tarball and runs the consumers. */
  const node = nodeIndex > 0 ? path.resolve(process.argv[nodeIndex + 1] ?? '') : process.execPath;
  const nodeTuple =
    node === process.execPath
      ? PLATFORM_DIR
      : (
          await runOk(node, ['-p', 'process.platform + "-" + process.arch'], {
            cwd: ROOT,
            timeoutMs: 60000 * TIME_SCALE,
          })
        ).stdout.trim();
  if (node !== process.execPath) console.log(`install and consumers: ${node} (${nodeTuple})`);
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'posix-fork-pack-'));
  const stage = path.join(temp, 'package');
  const app = path.join(temp, 'app');
  const bin = path.join(temp, 'bin');
  const npm = npmCli();
  let tarball = '';
  try {
    await step('stage the package sources', () => {
      fs.mkdirSync(stage);
      for (const name of STAGED) {
        const from = path.join(ROOT, name);
        if (!fs.existsSync(from)) continue;
        fs.mkdirSync(path.dirname(path.join(stage, name)), { recursive: true });
        fs.cpSync(from, path.join(stage, name), { recursive: true });
      }
      fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
      return stage;
    });

    let packed:
      | { filename: string; size: number; unpackedSize: number; files: { path: string }[] }
      | undefined;
    await step(
      'npm pack: prepack runs npm run prebuild, prepare compiles the TypeScript',
      async () => {
        const result = await runOk(
          process.execPath,
          [npm, 'pack', '--json', '--pack-destination', temp],
          {
            cwd: stage,
            env: cleanEnv(),
          },
        );
        // Lifecycle scripts (the builds) may print before the JSON.
        const json = result.stdout.slice(result.stdout.search(/^\[\s*\{/m));
        [packed] = JSON.parse(json) as (typeof packed & object)[];
        tarball = path.join(temp, packed.filename);
        return packed.filename;
      },
    );

    await step(
      `one prebuilt binary for each of ${PREBUILT_DIRS.join(', ')}: ELF for its CPU, stripped`,
      () => {
        const found: string[] = [];
        for (const tuple of PREBUILT_DIRS) {
          const dir = path.join(stage, 'prebuilds', tuple);
          const binaries = fs.readdirSync(dir).filter((name) => name.endsWith('.node'));
          if (binaries.length !== 1)
            throw new Error(`expected one .node in ${dir}, found ${binaries}`);
          found.push(
            `prebuilds/${tuple}/${binaries[0]} (${checkElf(path.join(dir, binaries[0]), tuple.split('-')[1])})`,
          );
        }
        return found.join('; ');
      },
    );

    await step("node-gyp-build loads the host's with PREBUILDS_ONLY=1", async () => {
      const script =
        `const load = require('node-gyp-build'); const dir = process.argv[1];` +
        `console.log(JSON.stringify({ file: load.path(dir), fork: typeof load(dir).fork }))`;
      const result = await runOk(process.execPath, ['-e', script, stage], {
        cwd: stage,
        env: { ...cleanEnv(), PREBUILDS_ONLY: '1' },
      });
      const seen = JSON.parse(result.stdout) as { file: string; fork: string };
      if (
        !seen.file.startsWith(path.join(stage, 'prebuilds', PLATFORM_DIR) + path.sep) ||
        seen.fork !== 'function'
      ) {
        throw new Error(`loaded ${seen.file} (fork: ${seen.fork})`);
      }
      return path.relative(stage, seen.file);
    });

    await step('the tarball ships what users need and nothing else', () => {
      if (!packed) throw new Error('not packed');
      const files = packed.files.map((file) => file.path);
      const required = [
        'package.json',
        'README.md',
        'binding.gyp',
        'native/addon.cc',
        'dist/src/index.js',
        'dist/src/index.d.ts',
        'dist/src/native.js',
        'dist/examples/ps.js',
        'esm/index.mjs',
        'esm/index.d.mts',
      ];
      const missing = required.filter((file) => !files.includes(file));
      for (const tuple of PREBUILT_DIRS) {
        if (!files.some((file) => file.startsWith(`prebuilds/${tuple}/`)))
          missing.push(`prebuilds/${tuple}/*.node`);
      }
      const allowed =
        /^(package\.json|README\.md|LICENSE|binding\.gyp|native\/[^/]+\.(cc|h)|dist\/src\/.+\.(js|d\.ts)|dist\/examples\/[^/]+\.js|esm\/index\.(mjs|d\.mts)|prebuilds\/[^/]+\/[^/]+\.node)$/;
      const unexpected = files.filter((file) => !allowed.test(file));
      if (missing.length || unexpected.length) {
        throw new Error(
          `missing: ${missing.join(', ') || '-'}; unexpected: ${unexpected.join(', ') || '-'}`,
        );
      }
      const prebuilt = files.filter((file) => file.startsWith('prebuilds/'));
      return (
        `${files.length} files (${prebuilt.join(', ')}), ${(packed.size / 1024).toFixed(0)} KiB packed, ` +
        `${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked`
      );
    });

    // A PATH with node, npm and sh only: no compiler, no make, no python.
    fs.mkdirSync(bin);
    fs.symlinkSync(node, path.join(bin, 'node'));
    fs.symlinkSync(npm, path.join(bin, 'npm'));
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
    const noCompilerEnv: NodeJS.ProcessEnv = { ...cleanEnv(), PATH: bin };

    await step('the install PATH has no compiler', () => {
      const found = COMPILERS.map((name) => findOnPath(name, bin)).filter(Boolean);
      if (found.length) throw new Error(`found ${found.join(', ')}`);
      if ('npm_config_build_from_source' in noCompilerEnv) throw new Error('build_from_source set');
      return `PATH=${bin}`;
    });

    await step('npm install <tarball> into a fresh project, without a compiler', async () => {
      fs.mkdirSync(app);
      fs.writeFileSync(
        path.join(app, 'package.json'),
        JSON.stringify(
          { name: 'posix-fork-pack-consumer', version: '1.0.0', private: true },
          null,
          2,
        ),
      );
      await runOk(
        node,
        [npm, 'install', tarball, '--no-audit', '--no-fund', '--foreground-scripts'],
        { cwd: app, env: noCompilerEnv, timeoutMs: 300000 * TIME_SCALE },
      );
      const installed = path.join(app, 'node_modules', 'posix-fork');
      if (fs.existsSync(path.join(installed, 'build'))) {
        throw new Error('the install compiled the addon (build/ exists)');
      }
      return 'no build/ directory: the prebuilt binary was used';
    });

    const runEnv: NodeJS.ProcessEnv = { ...noCompilerEnv, PREBUILDS_ONLY: '1' };

    /**
     * Writes `source` (unless null) to `file` in the project and runs it with `args` under
     * `node --single-threaded`; its stdout, once it has exited 0 with nothing on stderr.
     */
    const runInProject = async (
      file: string,
      source: string | null,
      args: string[],
    ): Promise<string> => {
      if (source !== null) fs.writeFileSync(path.join(app, file), source);
      const result = await runOk(node, ['--single-threaded', file, ...args], {
        cwd: app,
        env: runEnv,
        timeoutMs: 30000 * TIME_SCALE,
      });
      if (result.stderr !== '') throw new Error(`stderr: ${result.stderr}`);
      return result.stdout;
    };

    await step('require("posix-fork"): fork + waitpid under node --single-threaded', async () => {
      const stdout = await runInProject('round-trip.cjs', CONSUMER_CJS, []);
      const seen = JSON.parse(stdout) as {
        entry: string;
        binary: string;
        forkSafe: boolean;
        status: { exitCode: number | null };
      };
      const installed = path.join(app, 'node_modules', 'posix-fork');
      if (seen.entry !== path.join(installed, 'dist', 'src', 'index.js'))
        throw new Error(`entry ${seen.entry}`);
      if (!seen.binary.startsWith(path.join(installed, 'prebuilds', nodeTuple) + path.sep)) {
        throw new Error(`binary ${seen.binary}, expected one in prebuilds/${nodeTuple}/`);
      }
      if (!seen.forkSafe || seen.status.exitCode !== 42) throw new Error(stdout);
      return `child exit code ${seen.status.exitCode}, binary ${path.relative(app, seen.binary)}`;
    });

    await step(
      'import from "posix-fork": fork + waitpid under node --single-threaded',
      async () => {
        const stdout = await runInProject('round-trip.mjs', CONSUMER_ESM, []);
        const seen = JSON.parse(stdout) as {
          sameInstance: boolean;
          forkSafe: boolean;
          status: { exitCode: number | null };
        };
        if (!seen.sameInstance || !seen.forkSafe || seen.status.exitCode !== 43)
          throw new Error(stdout);
        return `child exit code ${seen.status.exitCode}, same instance as require()`;
      },
    );

    await step(
      'the posix-fork command runs a demo: its example, from the installed package',
      async () => {
        const stdout = await runInProject(path.join('node_modules', '.bin', 'posix-fork'), null, [
          'demo',
          'fork',
        ]);
        if (!/source = 9 in the child/.test(stdout) || !/nothing left behind/.test(stdout))
          throw new Error(stdout);
        return 'posix-fork demo fork: exit 0, nothing left behind';
      },
    );

    await step(
      'types: CommonJS and ESM consumers type-check (nodenext, bundler, node10)',
      async () => {
        fs.writeFileSync(path.join(app, 'types-cjs.ts'), TYPES_CJS);
        fs.writeFileSync(path.join(app, 'types-esm.mts'), TYPES_ESM);
        const common = {
          strict: true,
          noEmit: true,
          target: 'es2022',
          types: ['node'],
          typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        };
        const configs = {
          'tsconfig.nodenext.json': {
            compilerOptions: { ...common, module: 'nodenext', moduleResolution: 'nodenext' },
            files: ['types-cjs.ts', 'types-esm.mts'],
          },
          'tsconfig.bundler.json': {
            compilerOptions: { ...common, module: 'esnext', moduleResolution: 'bundler' },
            files: ['types-esm.mts'],
          },
          'tsconfig.node10.json': {
            compilerOptions: {
              ...common,
              module: 'commonjs',
              moduleResolution: 'node10',
              esModuleInterop: true,
            },
            files: ['types-cjs.ts'],
          },
        };
        const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
        for (const [name, config] of Object.entries(configs)) {
          fs.writeFileSync(path.join(app, name), JSON.stringify(config, null, 2));
          await runOk(process.execPath, [tsc, '-p', name], { cwd: app, env: runEnv });
        }
        return Object.keys(configs).join(', ');
      },
    );
  } catch {
    // Reported by step(); the summary below carries the failure.
  } finally {
    if (keep) console.log(`kept ${temp}`);
    else fs.rmSync(temp, { recursive: true, force: true });
  }
  const passed = steps.filter((s) => s.ok).length;
  const failed = steps.length - passed;
  console.log(`\npack: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

void main();
