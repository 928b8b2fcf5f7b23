// src/proc.ts's parsing, and procinfo/ps's naming of what it reads: pure functions, plus a few
// reads of this very process. In-process, no child.
import { openFds } from '../src/fds';
import { ProcStat, commandLine, deviceNumbers, parseStat, readStat } from '../src/proc';
import { psTtyName, ttyName } from '../src/procinfo';
import { psStat } from '../src/cli/ps';

const linux = process.platform === 'linux' ? test : test.skip;

// Fields 3 on: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime
// stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss
const TAIL = 'S 1 100 100 34816 100 4194560 1 0 0 0 5 6 0 0 20 -5 3 0 123456 1000 50';

describe('parseStat', () => {
  test('every field it reads', () => {
    expect(parseStat(7, `7 (node) ${TAIL}`)).toEqual({
      pid: 7,
      comm: 'node',
      state: 'S',
      ppid: 1,
      pgid: 100,
      sid: 100,
      ttyNr: 34816,
      tpgid: 100,
      nice: -5,
      numThreads: 3,
      startTime: '123456',
    });
  });

  test.each([['my (odd) name'], ['(a) (b)'], ['a b) (c'], [') S 1 2 3'], [''], ['x)']])(
    'the name %p, which may hold spaces and parentheses, ends at the last ")"',
    (name) => {
      const stat = parseStat(7, `7 (${name}) ${TAIL}`);
      expect(stat?.comm).toBe(name);
      expect(stat).toMatchObject({ state: 'S', ppid: 1, startTime: '123456' });
    },
  );

  test('truncated or foreign text is null', () => {
    expect(parseStat(7, '7 (x) S 1 2')).toBeNull();
    expect(parseStat(7, 'garbage')).toBeNull();
    expect(parseStat(7, '')).toBeNull();
    expect(parseStat(7, `7 )x( ${TAIL}`)).toBeNull();
  });

  linux('this process, read from /proc', () => {
    expect(readStat(process.pid)).toMatchObject({
      pid: process.pid,
      ppid: process.ppid,
      state: 'R',
    });
    expect(readStat(2147483647)).toBeNull();
  });
});

test('deviceNumbers: major in bits 8-19, minor in bits 0-7 and 20-31', () => {
  expect(deviceNumbers(0x8801)).toEqual({ major: 136, minor: 1 });
  expect(deviceNumbers(0x0401)).toEqual({ major: 4, minor: 1 });
  expect(deviceNumbers(0x12345678)).toEqual({ major: 0x456, minor: 0x12378 });
  expect(deviceNumbers(0)).toEqual({ major: 0, minor: 0 });
});

describe('ttyName: the name ps shows for tty_nr', () => {
  const noLookup = () => null;
  test.each([
    [0, null],
    [(136 << 8) | 3, 'pts/3'],
    [(137 << 8) | 4, 'pts/260'],
    [(136 << 8) | (1 << 20) | 2, 'pts/258'],
    [(4 << 8) | 1, 'tty1'],
    [(4 << 8) | 64, 'ttyS0'],
    [(4 << 8) | 65, 'ttyS1'],
    [(5 << 8) | 0, 'tty'],
    [(5 << 8) | 1, 'console'],
    [(188 << 8) | 0, '188:0'],
  ])('%i is %p', (ttyNr, name) => {
    expect(ttyName(ttyNr, noLookup)).toBe(name);
  });

  test('other devices are named by the lookup (udev links)', () => {
    const seen: Array<[number, number]> = [];
    expect(
      ttyName((188 << 8) | 2, (major, minor) => {
        seen.push([major, minor]);
        return 'ttyUSB2';
      }),
    ).toBe('ttyUSB2');
    expect(seen).toEqual([[188, 2]]);
  });

  test.each([
    ['??', null],
    ['?', null],
    ['s000', 'ttys000'],
    ['ttys001', 'ttys001'],
    ['console', 'console'],
  ])('macOS ps %p is %p', (column, name) => {
    expect(psTtyName(column)).toBe(name);
  });
});

describe('psStat: the STAT column', () => {
  const base: ProcStat = {
    pid: 10,
    comm: 'x',
    state: 'S',
    ppid: 1,
    pgid: 10,
    sid: 5,
    ttyNr: 0,
    tpgid: -1,
    nice: 0,
    numThreads: 1,
    startTime: '1',
  };
  test.each([
    [{}, 'S'],
    [{ nice: -1 }, 'S<'],
    [{ nice: 5 }, 'SN'],
    [{ sid: 10 }, 'Ss'],
    [{ numThreads: 7 }, 'Sl'],
    [{ ttyNr: 34816, tpgid: 10 }, 'S+'],
    [{ ttyNr: 34816, tpgid: 11 }, 'S'],
    [{ ttyNr: 0, tpgid: 10 }, 'S'],
    [{ state: 'Z', sid: 10, nice: -2, numThreads: 2, ttyNr: 1, tpgid: 10 }, 'Z<sl+'],
  ])('%p gives %p', (change, text) => {
    expect(psStat({ ...base, ...change })).toBe(text);
  });
});

describe("this process's descriptors and command line", () => {
  linux('openFds lists 0, 1, 2 in order', () => {
    const fds = openFds();
    expect(fds.slice(0, 3)).toEqual([0, 1, 2]);
    expect([...fds].sort((a, b) => a - b)).toEqual(fds);
  });

  linux('commandLine', () => {
    expect(commandLine(process.pid)?.[0]).toBe(process.argv0);
    expect(commandLine(2147483647)).toBeNull();
  });
});
