// prefork's choice of the worker to hand a new connection to (src/prefork/balance.ts handTo):
// pure, in-process.
import { handTo } from '../src/prefork/balance';

function choose(me: number, loads: number[], closed: number[] = []): number {
  return handTo(
    me,
    (id) => loads[id],
    (id) => !closed.includes(id),
    loads.length,
  );
}

test('keeps the connection while no open worker serves fewer', () => {
  expect(choose(0, [0, 0, 0])).toBe(-1);
  expect(choose(1, [3, 3, 4])).toBe(-1);
  expect(choose(0, [1])).toBe(-1);
});

test('hands it to the open worker with the fewest, the first of equals', () => {
  expect(choose(0, [3, 2, 1, 1])).toBe(2);
  expect(choose(2, [5, 0, 1])).toBe(1);
});

test('never to a closed slot (starting, stopping, not balancing, gone)', () => {
  expect(choose(0, [4, 0, 2], [1])).toBe(2);
  expect(choose(0, [4, 0, 2], [1, 2])).toBe(-1);
});
