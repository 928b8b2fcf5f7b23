// Pool (multiprocessing.Pool on real forks): every scenario runs in its own
// `node --single-threaded` process; leftovers are checked through /proc.
import { notArgumentErrors, procState, runFixture, until } from './helpers';

async function scenario(name: string) {
  const run = await runFixture('pool-scenarios.js', [name]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const lines = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  expect(lines[lines.length - 1]).toEqual({ done: name });
  return lines.slice(0, -1);
}

describe('results', () => {
  test('map, starmap, apply, imap, imapUnordered and pmap equal the serial computation', async () => {
    const [r] = await scenario('results');
    for (const key of [
      'objects',
      'chunk1',
      'chunk7',
      'chunk100',
      'chunk1000',
      'numbers',
      'smalls',
      'rich',
      'asyncMap',
    ]) {
      expect([key, r[key]]).toEqual([key, true]);
    }
    expect(r.specials).toEqual([true, true, true, true]);
    expect(r.richValues).toEqual([true, true, true]);
    expect(r.large).toEqual([300000, 300000, 300000]);
    expect(r.starmap).toEqual([6, 20, 42]);
    expect(r.apply).toBe(6);
    expect(r.applyNoArgs).toBe('none');
    expect(r.empty).toEqual([]);
    expect(r.set).toEqual([2, 3, 4]);
    expect(r.generator).toEqual([10, 12, 14]);
    expect(r.mixedAsync).toEqual([0, 1, 2, 3, 4, 5]);
    // Later items finish first (shorter sleeps), yet imap yields in item order.
    expect(r.imap).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    expect(r.imapUnordered).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    expect(r.pmap).toEqual([0, 3, 6, 9, 12]);
    expect(r.processes).toEqual([3, true]);
    expect(r.children).toEqual([]);
  });

  test("closures see the caller's state at the call; workers' changes stay in the workers", async () => {
    const [r] = await scenario('state');
    expect(r.first).toEqual([12, 14, 16, 18]); // factor 2, scaler.factor 10 when map() was called
    expect(r.second).toEqual([103, 106, 109, 112]); // the next call sees factor 3 and 100
    expect(r.counter).toBe(0);
    expect(r.workerPids).toBe(true);
  });
});

describe('failures', () => {
  test("an item's exception rejects with the child's name, message, code, stack and the item's index", async () => {
    const [r] = await scenario('errors');
    expect(r.thrown).toMatchObject({
      name: 'RangeError',
      message: 'bad item 13',
      code: 'E_BAD',
      index: 13,
    });
    expect(r.thrown.stack).toMatch(
      /^RangeError: bad item 13\n\s+at .*checkItem.*pool-scenarios\.js/,
    );
    expect(r.rejected).toMatchObject({ name: 'TypeError', message: 'async bad', index: 3 });
    expect(r.rejected.stack).toMatch(/pool-scenarios\.js/);
    expect(r.string).toMatchObject({ name: 'Error', message: 'plain', index: 1 });
    expect(r.uncloneable).toMatchObject({ message: '() => x could not be cloned.', index: 4 });
    expect(r.starmap).toMatchObject({ message: 'star 7', index: 0 });
    expect(r.apply).toMatchObject({ message: 'apply failed', index: 0 });
    // imap yields the results before the failing item, then throws its error.
    expect(r.imap.seen).toEqual([0, 1, 2, 3, 4]);
    expect(r.imap.error).toMatchObject({ message: 'imap five', index: 5 });
    expect(r.children).toEqual([]);
  });

  test('a crashed worker (SIGKILL, SIGSEGV, process.exit) rejects with the signal or code; no zombie', async () => {
    const [r] = await scenario('crash');
    expect(r.sigkill).toMatchObject({
      code: 'ERR_POOL_WORKER_DIED',
      signal: 'SIGKILL',
      index: 6,
      exitCode: null,
    });
    expect(r.sigkill.message).toMatch(
      /^pool worker \d+ was killed by SIGKILL while running items 6-8$/,
    );
    expect(r.segv).toMatchObject({ code: 'ERR_POOL_WORKER_DIED', signal: 'SIGSEGV', index: 2 });
    expect(r.exit).toMatchObject({
      code: 'ERR_POOL_WORKER_DIED',
      signal: null,
      exitCode: 3,
      index: 0,
    });
    expect(r.exit.message).toMatch(/exited with code 3/);
    expect(r.imap.error).toMatchObject({ signal: 'SIGKILL', index: 6 });
    expect(r.imap.seen).toEqual([0, 1, 2, 3, 4, 5].slice(0, r.imap.seen.length));
    expect(r.after).toEqual([2, 3]); // the pool still works
    expect(r.children).toEqual([]);
  });

  test('an AbortSignal kills the workers and rejects with AbortError; leaving a for-await loop early too', async () => {
    const [r] = await scenario('abort');
    expect(r.preAborted).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(r.childrenAfterPre).toEqual([]);
    expect(r.workers).toBe(2);
    expect(r.aborted).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(r.childrenAfter).toEqual([]);
    expect(r.imap.seen).toEqual([0, 1]);
    expect(r.imap.error).toMatchObject({ name: 'AbortError', cause: 'why' });
    expect(r.breakTaken).toBe(1);
    expect(r.childrenEnd).toEqual([]);
    expect(r.fdsSame).toBe(true);
  });
});

describe('lifecycle and leftovers', () => {
  test('close() lets running calls finish and refuses new ones; terminate() stops them; join()', async () => {
    const [r] = await scenario('lifecycle');
    expect(r.joinRunning).toMatchObject({
      code: 'ERR_POOL_RUNNING',
      message: 'Pool is still running',
    });
    expect(r.mapAfterClose).toMatchObject({
      code: 'ERR_POOL_NOT_RUNNING',
      message: 'Pool not running',
    });
    expect(r.imapAfterClose).toMatchObject({ code: 'ERR_POOL_NOT_RUNNING' });
    expect(r.slow).toEqual([1, 2]);
    expect(r.childrenAfterClose).toEqual([]);
    expect(r.terminated).toMatchObject({ code: 'ERR_POOL_TERMINATED', message: 'Pool terminated' });
    expect(r.childrenAfterTerminate).toEqual([]);
    expect(r.afterTerminate).toMatchObject({ code: 'ERR_POOL_NOT_RUNNING' });
  });

  test('no descriptor and no process is left, whichever way calls end', async () => {
    const [r] = await scenario('leaks');
    expect(r.fdsAfter).toBe(r.fdsBefore);
    expect(r.children).toEqual([]);
  });

  test("the parent's exit kills and reaps the running call's workers", async () => {
    const run = await runFixture('pool-scenarios.js', ['parent-exit']);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const workers = lines.filter((l) => 'worker' in l).map((l) => l.worker);
    expect(workers).toHaveLength(2);
    expect(lines.find((l) => 'parent' in l).children.sort()).toEqual([...workers].sort());
    for (const pid of workers) expect(procState(pid)).toBeNull();
  });

  test('a parent killed by SIGKILL leaves no worker behind', async () => {
    const run = await runFixture('pool-scenarios.js', ['parent-killed']);
    expect(run.signal).toBe('SIGKILL');
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const workers = lines.filter((l) => 'worker' in l).map((l) => l.worker);
    expect(workers).toHaveLength(2);
    // Orphans are re-parented and reaped by init (or a subreaper): wait until they are gone.
    await until(
      () => workers.every((pid) => procState(pid) === null || procState(pid) === 'Z'),
      5000,
    );
  });
});

describe('where a pool runs', () => {
  test('inside a Process target, inside a prefork() worker, and a pmap inside a worker', async () => {
    const [r] = await scenario('nested');
    expect(r.process).toEqual({
      code: 0,
      result: { values: [0, 2, 4, 6, 8, 10, 12, 14, 16, 18], children: 0 },
      error: null,
    });
    expect(r.prefork).toEqual({
      servedByWorker: true,
      values: [100, 101, 102, 103, 104, 105],
      left: [],
    });
    expect(r.nestedPmap).toEqual([
      [10, 20],
      [20, 30],
    ]);
    expect(r.children).toEqual([]);
  });

  test('a worker thread is refused with ERR_FORK_IN_WORKER', async () => {
    const [r] = await scenario('thread');
    expect(r.ctor).toMatchObject({ name: 'Error', code: 'ERR_FORK_IN_WORKER' });
    expect(r.pmap).toEqual({ code: 'ERR_FORK_IN_WORKER' });
  });
});

test('bad input: TypeError/RangeError before any fork, nothing crashes, a good call works after', async () => {
  const run = await runFixture('pool-bad-input.js');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  const r = JSON.parse(run.stdout);
  expect(r.results.length).toBeGreaterThanOrEqual(200);
  expect(notArgumentErrors(r.results)).toEqual([]);
  expect(r.childrenBeforeGood).toBe(''); // no call with a bad argument forked anything
  expect(r.good).toEqual([2, 4, 6]); // inherited option properties are ignored
  expect(r.children).toBe('');
});
