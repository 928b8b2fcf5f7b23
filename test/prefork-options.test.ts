// prefork(): what is refused before anything binds (in-process: nothing forks).
import * as net from 'net';
import { prefork } from '../src';
import { heartbeatInterval, normaliseOptions } from '../src/prefork/options';

const serve = () => undefined;

describe('bad input throws before anything binds', () => {
  test.each([
    [undefined, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [null, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [[], TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ serve }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 8080 }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 8080, serve: 'app.js' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 70000, serve }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: -1, serve }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: 1.5, serve }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: '', serve }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ listen: true, serve }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: { port: 80, path: '/tmp/x' }, serve }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ listen: { fd: 3, host: 'h' }, serve }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ listen: { port: 80, hots: 'h' }, serve }, TypeError, 'ERR_INVALID_ARG_VALUE'],
    [{ listen: { port: '80' }, serve }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: { host: 1 }, serve }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 0, serve, workers: 0 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: 0, serve, workers: 1025 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: 0, serve, workers: '4' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 0, serve, timeoutMs: -1 }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: 0, serve, gracefulTimeoutMs: NaN }, RangeError, 'ERR_OUT_OF_RANGE'],
    [{ listen: 0, serve, signals: 'yes' }, TypeError, 'ERR_INVALID_ARG_TYPE'],
    [{ listen: 0, serve, worker: 4 }, TypeError, 'ERR_INVALID_ARG_VALUE'],
  ])('%p', (options, Kind, code) => {
    const thrown = (() => {
      try {
        prefork(options as never);
      } catch (error) {
        return error;
      }
      return null;
    })();
    expect(thrown).toBeInstanceOf(Kind);
    expect(thrown).toHaveProperty('code', code);
  });

  test('argument count', () => {
    expect(() => (prefork as unknown as () => void)()).toThrow(TypeError);
    expect(() =>
      (prefork as unknown as (a: unknown, b: unknown) => void)({ listen: 0, serve }, 1),
    ).toThrow(TypeError);
  });

  test('options are read from own properties only', () => {
    const inherited = Object.create({ serve, workers: 3 });
    inherited.listen = 0;
    expect(() => normaliseOptions(inherited)).toThrow(TypeError); // not a plain object
    const proto = Object.prototype as unknown as Record<string, unknown>;
    proto.workers = 0;
    try {
      expect(normaliseOptions({ listen: 0, serve }).workers).toBeGreaterThanOrEqual(1);
    } finally {
      delete proto.workers;
    }
  });

  test('normalised forms of listen', () => {
    expect(normaliseOptions({ listen: 8080, serve }).listen).toEqual({
      kind: 'tcp',
      port: 8080,
      host: undefined,
      backlog: undefined,
    });
    expect(
      normaliseOptions({ listen: { port: 1, host: '127.0.0.1', backlog: 5 }, serve }).listen,
    ).toEqual({ kind: 'tcp', port: 1, host: '127.0.0.1', backlog: 5 });
    expect(normaliseOptions({ listen: '/tmp/s', serve }).listen).toEqual({
      kind: 'path',
      path: '/tmp/s',
      backlog: undefined,
    });
    expect(normaliseOptions({ listen: { fd: 3 }, serve }).listen).toEqual({ kind: 'fd', fd: 3 });
    const defaults = normaliseOptions({ listen: 0, serve });
    expect(defaults).toMatchObject({ timeoutMs: 30000, gracefulTimeoutMs: 10000, signals: true });
  });
});

test('a port in use rejects ready with EADDRINUSE (nothing forked)', async () => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as net.AddressInfo;
  try {
    const server = prefork({
      listen: { port, host: '127.0.0.1' },
      workers: 2,
      serve,
      signals: false,
    });
    await expect(server.ready).rejects.toMatchObject({
      code: 'EADDRINUSE',
      syscall: 'listen',
      port,
    });
    expect(server.workers).toEqual([]);
    await server.close();
  } finally {
    holder.close();
  }
});

test('the heartbeat period: a quarter of the timeout, between 20 ms and 1 s', () => {
  expect(heartbeatInterval(30000)).toBe(1000);
  expect(heartbeatInterval(1000)).toBe(250);
  expect(heartbeatInterval(10)).toBe(20);
});
