// Process, subclassed: override run() as in Python's multiprocessing. Beyond Python, run()'s
// return value comes back as p.result and an error it throws as p.error.
//
//   node dist/examples/process-subclass.js
import { Process, ensureForkSafe } from 'posix-fork';

ensureForkSafe(); // see examples/fork.ts

class Worker extends Process<string> {
  constructor(private readonly n: number) {
    super();
  }

  // Runs in the child; `this` is the child's copy of the object.
  override run(): string {
    console.log(`worker ${this.n}: process ${process.pid} is running`);
    if (this.n === 4) throw new RangeError(`${this.n} is one too many`);
    return `${this.n}: done by ${process.pid}`;
  }
}

async function main(): Promise<void> {
  const workers = [1, 2, 3, 4].map((n) => new Worker(n));
  workers.forEach((worker) => worker.start());
  for (const worker of workers) {
    const code = await worker.join();
    console.log(
      `${worker.name}: exit code ${code}, result ${JSON.stringify(worker.result)}` +
        (worker.error ? `, error ${worker.error.name}: ${worker.error.message}` : ''),
    );
  }
}

void main();
