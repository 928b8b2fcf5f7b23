// The pidfile record: pure functions, checked in this process.
import { formatRecord, parseRecord } from '../src/pidfile/record';

describe('pidfile record', () => {
  test('round trip with identity, session and boot', () => {
    const record = { pid: 4242, start: '987654', sid: 4240, boot: 'b0-0t' };
    expect(formatRecord(record)).toBe('4242\nposix-fork start=987654 sid=4240 boot=b0-0t\n');
    expect(parseRecord(formatRecord(record))).toEqual(record);
  });

  test('a plain number is a record without identity (no proof)', () => {
    expect(parseRecord('17\n')).toEqual({ pid: 17, start: null, sid: null, boot: null });
    expect(parseRecord(' 17 ')).toEqual({ pid: 17, start: null, sid: null, boot: null });
    expect(formatRecord({ pid: 17, start: null, sid: 5, boot: 'x' })).toBe('17\n');
  });

  test("another program's second line, or ours without a start time, proves nothing", () => {
    expect(parseRecord('17\nsomething else\n')?.start).toBeNull();
    expect(parseRecord('17\nposix-fork sid=3\n')).toEqual({
      pid: 17,
      start: null,
      sid: null,
      boot: null,
    });
  });

  test('the smallest pid is 1, the largest 2^31-1; anything else is no record', () => {
    expect(parseRecord('1\n')?.pid).toBe(1);
    expect(parseRecord('2147483647\n')?.pid).toBe(2147483647);
    for (const text of ['0\n', '2147483648\n', '-5\n', '12a\n', '', '\n17\n', 'nginx\n']) {
      expect(parseRecord(text)).toBeNull();
    }
  });

  test('a session outside 1..2^31-1 is dropped', () => {
    expect(parseRecord('9\nposix-fork start=1 sid=0\n')?.sid).toBeNull();
    expect(parseRecord('9\nposix-fork start=1 sid=x\n')?.sid).toBeNull();
  });
});
