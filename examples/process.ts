// Process, Python's multiprocessing.Process on a real fork(): the classic programs.
//
//   node dist/examples/process.js [program] [--quick]
//
//   memory      each child adds 1 to num = 100 and sees 101; the parent keeps 100
//   join-order  start all, then join all (parallel) against join inside the loop (serial)
//   tasks       three children whose output comes after "main process ending": like Python,
//               the parent waits for its non-daemonic children when it ends
//   cleanup     a child per start(); start() reaps the children that have ended (Python's
//               _cleanup()), so ps shows at most one zombie, the newest child
//   no-daemon   the parent ends, its child still finishes (2 s)
//   daemon      the same with daemon = true: the child is terminated with its parent
//   (none)      memory, join-order, tasks (joined), cleanup, then daemon
//
// --quick divides every wait by 10.
import { Process, currentProcess, ensureForkSafe, processInfo } from 'posix-fork';
import { showProcesses } from './ps';

ensureForkSafe(); // see examples/fork.ts

const scale = process.argv.includes('--quick') ? 0.1 : 1;
const program = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms * scale));
// Python's time.sleep blocks; so does this.
const sleepSync = (ms: number) =>
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms * scale);
const until = async (done: () => boolean) => {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 10));
};

let num = 100;

async function memory(): Promise<void> {
  console.log('== memory: every child has its own copy (num = 100)');
  const addOne = (name: string) => {
    num += 1; // this child's copy
    console.log(`${name}: num in the child is ${num}`);
    return num;
  };
  const children = ['user001', 'user002', 'user003'].map(
    (name) => new Process({ target: addOne, args: [name] }),
  );
  for (const child of children) child.start();
  for (const child of children) await child.join();
  console.log(
    `main: num in the parent is ${num}; the children returned ${children.map((child) => child.result).join(', ')}`,
  );
}

async function joinOrder(): Promise<void> {
  console.log('\n== join-order: where join() goes');
  const work = (i: number) => {
    console.log(`${i}: process ${process.pid} is running`);
    sleepSync(1500);
  };
  let started = Date.now();
  const children: Process[] = [];
  for (let i = 1; i <= 4; i++) {
    const child = new Process({ target: work, args: [i] });
    child.start();
    children.push(child);
  }
  for (const child of children) await child.join();
  console.log(`start all, then join all: ${((Date.now() - started) / 1000).toFixed(2)} s`);
  started = Date.now();
  for (let i = 1; i <= 4; i++) {
    const child = new Process({ target: work, args: [i] });
    child.start();
    await child.join(); // waits before the next one starts: serial
  }
  console.log(`join inside the loop:     ${((Date.now() - started) / 1000).toFixed(2)} s`);
}

async function tasks(join: boolean): Promise<void> {
  console.log('\n== tasks: start() returns at once');
  console.log('main process starting ...');
  const work = async (name: string) => {
    console.log(`${name} is starting ....`);
    await sleep(2000);
    console.log(`${name} is ending ....`);
  };
  const children = [0, 1, 2].map(
    (i) => new Process({ target: work, args: [`task_${i}`], name: `task_${i}` }),
  );
  for (const child of children) child.start();
  console.log(`main process ending ...${join ? ' (but first it joins its children)' : ''}`);
  if (!join) return; // the parent waits for them when it ends
  showProcesses('three children running the same program:', [
    process.pid,
    ...children.map((child) => child.pid as number),
  ]);
  const codes = await Promise.all(children.map((child) => child.join()));
  console.log(
    `joined: ${children.map((child, i) => `${child.name} exit code ${codes[i]}`).join(', ')}`,
  );
}

async function cleanup(): Promise<void> {
  console.log('\n== cleanup: start() first reaps the children that have ended');
  const started: number[] = [];
  for (let i = 1; i <= 3; i++) {
    const child = new Process({ target: () => console.log(`  child ${process.pid} ends at once`) });
    child.start();
    started.push(child.pid as number);
    await until(() => processInfo(child.pid as number)?.state === 'Z');
    showProcesses(
      `after start #${i}: the newest child is a zombie, the earlier ones are reaped`,
      started,
    );
  }
}

function emperor(daemon: boolean): void {
  console.log(
    `\n== ${daemon ? 'daemon' : 'no-daemon'}: the parent ends first (${currentProcess().name})`,
  );
  const steward = async (name: string) => {
    console.log(`steward ${name}: alive`);
    await sleep(2000);
    console.log(`steward ${name}: finished`);
  };
  console.log('emperor: Tom takes the throne');
  const child = new Process({ target: steward, args: ['max'], name: 'max' });
  child.daemon = daemon; // set before start()
  child.start();
  showProcesses(`the parent and its ${daemon ? 'daemonic' : 'non-daemonic'} child:`, [
    process.pid,
    child.pid as number,
  ]);
  setTimeout(() => {
    console.log(
      `emperor: Tom dies; ${daemon ? 'the daemonic steward is terminated with him' : 'the steward finishes first'}`,
    );
  }, 200 * scale);
}

async function main(): Promise<void> {
  switch (program) {
    case 'memory':
      return memory();
    case 'join-order':
      return joinOrder();
    case 'tasks':
      return tasks(false);
    case 'cleanup':
      return cleanup();
    case 'no-daemon':
      return emperor(false);
    case 'daemon':
      return emperor(true);
    case undefined:
      await memory();
      await joinOrder();
      await tasks(true);
      await cleanup();
      return emperor(true);
    default:
      console.error(`unknown program ${program}`);
      process.exitCode = 2;
  }
}

// No catch here: in the child of an async target, start() throws an unwind error that must
// reach the top (the library keeps it silent there); a real error still ends the program.
void main();
