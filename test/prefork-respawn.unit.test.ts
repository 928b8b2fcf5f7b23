// prefork's replacement of dead workers (src/prefork/respawn.ts), in-process with jest's fake
// timers: the backoff, the count of failed starts, scheduling once per slot, cancelling.
import { CRASH_LOOP_FAILURES, Respawns, respawnDelay } from '../src/prefork/respawn';

test('respawn backoff: the first replacement at once, then doubling, capped', () => {
  expect(respawnDelay(0)).toBe(0);
  expect(respawnDelay(1)).toBe(0);
  expect(respawnDelay(2)).toBe(100);
  expect(respawnDelay(3)).toBe(200);
  expect(respawnDelay(CRASH_LOOP_FAILURES)).toBe(800);
  expect(respawnDelay(50)).toBe(5000);
  for (let n = 1; n < 20; n++) expect(respawnDelay(n + 1)).toBeGreaterThanOrEqual(respawnDelay(n));
});

describe('Respawns', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  test('failed starts in a row count up; a worker that served resets the count', () => {
    const respawns = new Respawns(() => undefined);
    expect(respawns.afterExit(0, true)).toBe(1);
    expect(respawns.afterExit(0, true)).toBe(2);
    expect(respawns.afterExit(1, true)).toBe(1); // per slot
    expect(respawns.afterExit(0, false)).toBe(1);
    expect(respawns.afterExit(0, true)).toBe(2);
    respawns.cancel();
  });

  const turnOfTheLoop = () => new Promise((resolve) => setImmediate(resolve));

  test('the slots are filled after the backoff, once per scheduled slot', async () => {
    const fill = jest.fn();
    const respawns = new Respawns(fill);
    respawns.afterExit(0, true); // 1 failure: at once (on this turn of the loop, no timer)
    expect(respawns.has(0)).toBe(true);
    expect(fill).not.toHaveBeenCalled();
    await turnOfTheLoop();
    expect(fill).toHaveBeenCalledTimes(1);
    expect(respawns.has(0)).toBe(false);

    respawns.afterExit(0, true); // 2 failures: 100 ms
    respawns.schedule(0, 0); // already scheduled: ignored
    jest.advanceTimersByTime(99);
    expect(fill).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(1);
    expect(fill).toHaveBeenCalledTimes(2);
  });

  test('slots due at once are filled by one fill; a cancelled one by none', async () => {
    const fill = jest.fn();
    const respawns = new Respawns(() => fill([0, 1, 2].map((id) => respawns.has(id))));
    respawns.afterExit(0, false);
    respawns.afterExit(1, false);
    await turnOfTheLoop();
    // When the fill runs, neither slot counts as scheduled any more: it starts both.
    expect(fill.mock.calls).toEqual([[[false, false, false]]]);

    respawns.schedule(2, 0);
    respawns.cancel();
    await turnOfTheLoop();
    expect(fill).toHaveBeenCalledTimes(1);
  });

  test('cancel: the slots from the given one on, or all', () => {
    const fill = jest.fn();
    const respawns = new Respawns(fill);
    for (const id of [0, 1, 2]) respawns.schedule(id, 10);
    respawns.cancel(1);
    expect([0, 1, 2].map((id) => respawns.has(id))).toEqual([true, false, false]);
    jest.advanceTimersByTime(10);
    expect(fill).toHaveBeenCalledTimes(1);
    respawns.schedule(2, 10);
    respawns.cancel();
    jest.advanceTimersByTime(10);
    expect(fill).toHaveBeenCalledTimes(1);
  });
});
