// Pool: a CPU-bound map over a big table, on all cores, with an ordinary closure.
//
//   node dist/examples/pool.js [--quick]
//
// The table is built once, in the parent. Every worker is forked from the parent at the call,
// so the closure passed to map() sees the table (and `threshold`, as it is at the call)
// without anything being copied to it; only the results come back.
import * as os from 'os';
import { Pool, ensureForkSafe } from 'posix-fork';

ensureForkSafe(); // see examples/fork.ts

const quick = process.argv.includes('--quick');
const ROWS = quick ? 50_000 : 2_000_000; // 6 doubles a row: 96 MB (2.4 MB with --quick)
const QUERIES = quick ? 40 : 400;

const table = new Float64Array(ROWS * 6);
for (let i = 0; i < table.length; i++) table[i] = Math.sin(i) * 1000;

let threshold = 900;

/** How many rows have a value above `threshold` in column `query % 6`. */
function count(query: number): number {
  const column = query % 6;
  let n = 0;
  for (let row = 0; row < ROWS; row++) if (table[row * 6 + column] > threshold + (query % 7)) n++;
  return n;
}

async function main(): Promise<void> {
  const queries = Array.from({ length: QUERIES }, (_, i) => i);
  let t0 = Date.now();
  const serial = queries.map((q) => count(q));
  const serialMs = Date.now() - t0;

  const pool = new Pool(); // one worker per core
  t0 = Date.now();
  const parallel = await pool.map((q) => count(q), queries);
  const poolMs = Date.now() - t0;
  console.log(`${QUERIES} queries over a ${(table.byteLength / 1048576).toFixed(0)} MB table`);
  console.log(
    `  serial: ${serialMs} ms; Pool with ${pool.processes} workers on ${os.cpus().length} CPUs: ${poolMs} ms`,
  );
  console.log(`  same results: ${JSON.stringify(parallel) === JSON.stringify(serial)}`);

  // The next call sees the parent's state at that call.
  threshold = 990;
  const [strict] = await pool.map((q) => count(q), [0]);
  console.log(
    `  after threshold = 990 in the parent: query 0 counts ${strict} rows (was ${serial[0]})`,
  );

  // A worker that throws: the error comes back with the worker's stack and the item's index.
  try {
    await pool.map(
      (q) => {
        if (q === 3) throw new RangeError(`query ${q} is not allowed`);
        return q;
      },
      queries.slice(0, 8),
    );
  } catch (error) {
    const e = error as Error & { index: number };
    console.log(`  ${e.name}: ${e.message} (index ${e.index})`);
  }
  await pool.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
