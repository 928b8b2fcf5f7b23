// The addon's descriptor passing and shared memory (native/fd_passing.cc), in process: what
// prefork's workers use to hand a connection over. Across processes, test/prefork.test.ts.
import * as fs from 'fs';
import { native } from '../src/native';

const opened: number[] = [];
afterEach(() => {
  for (const fd of opened.splice(0)) fs.closeSync(fd);
});
function keep<T extends number[]>(fds: T): T {
  opened.push(...fds);
  return fds;
}

test('a descriptor sent on a datagram pair arrives as another descriptor of the same file', () => {
  const [receive, send] = keep(native.socketPair(true));
  const [readEnd, writeEnd] = keep(native.pipe());
  expect(native.receiveFds(receive)).toEqual([]); // non-blocking: nothing there yet
  expect(native.sendFd(send, writeEnd)).toBe(true);
  expect(native.sendFd(send, writeEnd)).toBe(true);
  const got = keep(native.receiveFds(receive));
  expect(got).toHaveLength(2);
  for (const fd of got) {
    expect(fd).not.toBe(writeEnd);
    expect(native.closeOnExec(fd)).toBe(true);
    fs.writeSync(fd, 'x');
  }
  const buffer = Buffer.alloc(8);
  expect(fs.readSync(readEnd, buffer)).toBe(2);
  expect(native.receiveFds(receive)).toEqual([]);
});

test('a full queue: sendFd says false instead of blocking, and nothing sent is lost', () => {
  const [receive, send] = keep(native.socketPair(true));
  const [, writeEnd] = keep(native.pipe());
  let sent = 0;
  while (sent < 100000 && native.sendFd(send, writeEnd)) sent++;
  expect(sent).toBeGreaterThan(0);
  expect(sent).toBeLessThan(100000);
  expect(keep(native.receiveFds(receive))).toHaveLength(sent);
});

test('both ends of a pair are close-on-exec; a stream pair carries bytes both ways', () => {
  const [a, b] = keep(native.socketPair(false));
  expect([native.closeOnExec(a), native.closeOnExec(b)]).toEqual([true, true]);
  fs.writeSync(b, 'ping');
  const buffer = Buffer.alloc(8);
  expect(buffer.subarray(0, fs.readSync(a, buffer)).toString()).toBe('ping');
  // Non-blocking: nothing more to read is EAGAIN, not a wait.
  expect(() => fs.readSync(a, buffer)).toThrow(expect.objectContaining({ code: 'EAGAIN' }));
});

test('shared memory: an ArrayBuffer of the size asked, zeroed, for Atomics', () => {
  const memory = native.sharedMemory(4096);
  expect(memory.byteLength).toBe(4096);
  const view = new Int32Array(memory);
  expect(view.every((v) => v === 0)).toBe(true);
  expect(Atomics.add(view, 3, 5)).toBe(0);
  expect(Atomics.load(view, 3)).toBe(5);
});

test('bad arguments are TypeError/RangeError before any system call', () => {
  // The addon's errors come from the main realm, not jest's: compared by name.
  const thrown = (call: () => unknown) => {
    try {
      call();
    } catch (error) {
      return (error as Error).name;
    }
    return 'nothing thrown';
  };
  expect(thrown(() => native.socketPair('yes' as never))).toBe('TypeError');
  expect(thrown(() => native.sendFd(-1, 0))).toBe('RangeError');
  expect(thrown(() => native.sendFd(0, 1.5))).toBe('RangeError');
  expect(thrown(() => native.receiveFds('0' as never))).toBe('TypeError');
  expect(thrown(() => native.sharedMemory(0))).toBe('RangeError');
  expect(thrown(() => (native.sendFd as (...a: unknown[]) => unknown)(1, 2, 3))).toBe('TypeError');
});
