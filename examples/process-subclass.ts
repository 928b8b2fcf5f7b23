// Seed 001: "通过继承Process类并重写run函数" — subclass Process and override run().
// Beyond Python: run()'s return value comes back as p.result, a thrown error as p.error.
//
//   node --single-threaded dist/examples/process-subclass.js
import { Process } from '../src';

class MyProcess extends Process<string> {
  constructor(private readonly i: number) {
    super();
  }

  // Runs in the child; `this` is the child's copy of the object.
  override run(): string {
    console.log(`${this.i}子进程${process.pid} 正在执行!`);
    if (this.i === 4) throw new RangeError(`${this.i} is one too many`);
    return `${this.i}: done by ${process.pid}`;
  }
}

async function main(): Promise<void> {
  const list = [1, 2, 3, 4].map((i) => new MyProcess(i));
  list.forEach((p) => p.start());
  for (const p of list) {
    const code = await p.join();
    console.log(`${p.name}: exit code ${code}, result ${JSON.stringify(p.result)}` +
      (p.error ? `, error ${p.error.name}: ${p.error.message}` : ''));
  }
}

void main();
