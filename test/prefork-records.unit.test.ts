// What prefork's master derives from its worker records (src/prefork/records.ts): pure.
import { WorkerRecord, stuck, workerInfo } from '../src/prefork/records';

function record(fields: Partial<WorkerRecord>): WorkerRecord {
  return {
    id: 0,
    pid: 100,
    generation: 0,
    startedAt: 1000,
    ready: true,
    balancing: true,
    stopping: false,
    lastBeat: 1000,
    killTimer: null,
    ...fields,
  } as WorkerRecord;
}

test('workerInfo: id, pid, generation, startedAt and nothing else', () => {
  expect(workerInfo(record({ id: 2, pid: 7, generation: 3, startedAt: 5 }))).toEqual({
    id: 2,
    pid: 7,
    generation: 3,
    startedAt: 5,
  });
});

test('stuck: silent past the timeout since its last beat, or since its fork when not ready', () => {
  const beating = record({ pid: 1, lastBeat: 9500 });
  const silent = record({ pid: 2, lastBeat: 8000 });
  const neverReady = record({ pid: 3, ready: false, startedAt: 8500, lastBeat: 9999 });
  const starting = record({ pid: 4, ready: false, startedAt: 9800 });
  const stopping = record({ pid: 5, lastBeat: 0, stopping: true });
  const all = [beating, silent, neverReady, starting, stopping];
  expect(stuck(all, 1000, 10000).map((r) => r.pid)).toEqual([2, 3]);
  expect(stuck(all, 1000, 9000)).toEqual([]);
});
