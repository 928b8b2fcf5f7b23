// The prefork master's conditions, in process: settled at changed(), rejected by rejectAll().
import { Conditions } from '../src/prefork/conditions';

test('until() resolves at once when the condition holds already', async () => {
  await expect(new Conditions().until(() => true)).resolves.toBeUndefined();
});

test('until() resolves at the first changed() after the condition holds, and only then', async () => {
  const conditions = new Conditions();
  let ready = false;
  let settled = false;
  const waiting = conditions.until(() => ready).then(() => (settled = true));
  conditions.changed();
  await Promise.resolve();
  expect(settled).toBe(false);
  ready = true;
  await Promise.resolve();
  expect(settled).toBe(false); // nothing checks before changed()
  conditions.changed();
  await waiting;
  expect(settled).toBe(true);
});

test('rejectAll() rejects every pending waiter; forget() leaves them unsettled', async () => {
  const conditions = new Conditions();
  const first = conditions.until(() => false);
  const second = conditions.until(() => false);
  conditions.rejectAll(new Error('closed'));
  await expect(first).rejects.toThrow('closed');
  await expect(second).rejects.toThrow('closed');
  let settled = false;
  void conditions.until(() => false).finally(() => (settled = true));
  conditions.forget();
  conditions.changed();
  conditions.rejectAll(new Error('late'));
  await new Promise((resolve) => setImmediate(resolve));
  expect(settled).toBe(false);
});
