// The seeds' multiprocessing.Process programs (000, 001, 004) with Process on a real fork():
//
//   node --single-threaded dist/examples/process.js [program] [--quick]
//
//   memory      001: each child adds 1 to num = 100 and prints 101; the parent keeps 100
//   join-order  001: start all then join all (fast) vs join inside the loop (serial)
//   cleanup     004: a child per start(); ps shows at most one zombie, the newest one
//   tasks       000: three children whose output arrives after "main process ending"
//   no-daemon   000: the parent ends, its non-daemonic child still finishes (2 s)
//   daemon      000: the same with daemon = true: the child dies with the parent
//   (none)      memory, join-order, cleanup, then daemon
import { Process, currentProcess, processInfo } from '../src';

const quick = process.argv.includes('--quick');
const program = process.argv.slice(2).find((arg) => !arg.startsWith('--'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, quick ? ms / 10 : ms));
// Python's time.sleep blocks; so does this (a synchronous target ends the child inside start()).
const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, quick ? ms / 10 : ms);

let num = 100;

async function memory(): Promise<void> {
  console.log('== 001: independent memory (num = 100)');
  const runTask = (name: string) => {
    num += 1; // this child's copy
    console.log(`${name} 进程中的 num值为${num}`);
    return num;
  };
  const list = ['user001', 'user002', 'user003'].map((name) => new Process({ target: runTask, args: [name] }));
  for (const p of list) p.start();
  for (const p of list) await p.join();
  console.log(`主函数结束啦~  parent num = ${num}; children returned ${list.map((p) => p.result).join(', ')}`);
}

async function joinOrder(): Promise<void> {
  console.log('\n== 001: where join() goes');
  const runTask = (i: number) => {
    console.log(`${i} 进程${process.pid}正在 运行`);
    sleepSync(150);
  };
  let t = Date.now();
  const list: Process[] = [];
  for (let i = 1; i <= 4; i++) {
    const p = new Process({ target: runTask, args: [i] });
    p.start();
    list.push(p);
  }
  for (const p of list) await p.join();
  console.log(`start all, then join all: 耗时${((Date.now() - t) / 1000).toFixed(3)}s`);
  t = Date.now();
  for (let i = 1; i <= 4; i++) {
    const p = new Process({ target: runTask, args: [i] });
    p.start();
    await p.join(); // waits before starting the next one: serial
  }
  console.log(`join inside the loop:     耗时${((Date.now() - t) / 1000).toFixed(3)}s`);
}

async function cleanup(): Promise<void> {
  console.log('\n== 004: start() reaps the finished children first (Python\'s _cleanup())');
  const started: number[] = [];
  for (let i = 0; i < 5; i++) {
    const p = new Process({ target: () => console.log(`  os.pid is ${process.pid}`) });
    p.start();
    started.push(p.pid as number);
    await sleep(300);
    const zombies = started.filter((pid) => processInfo(pid)?.state === 'Z');
    console.log(`  after start #${i + 1}: zombies among our children: [${zombies.join(', ')}]`);
  }
}

function tasks(): void {
  console.log('main process starting ...');
  const work = async (name: string) => {
    console.log(`${name} is starting .... `);
    await sleep(2000);
    console.log(`${name} is ending .... `);
  };
  for (let i = 0; i < 3; i++) new Process({ target: work, args: [`task_${i}`] }).start();
  console.log('main process ending ...');
  // Not joined: like Python's atexit, the parent waits for non-daemonic children at its end.
}

function emperor(daemon: boolean): void {
  const task = async (name: string) => {
    console.log(`总管:>>${name}>>正常存活`);
    await sleep(2000);
    console.log(`总管:>>${name}>>正常死亡`);
  };
  console.log(`皇帝 :>>> Tom >>> 执掌江山   (${currentProcess().name}, daemon child: ${daemon})`);
  const p = new Process({ target: task, args: ['max'] });
  p.daemon = daemon; // must be set before start()
  p.start();
  setTimeout(() => console.log('皇帝 :>>> Tom >>> 寿终正寝'), quick ? 20 : 200);
}

async function main(): Promise<void> {
  switch (program) {
    case 'memory': return memory();
    case 'join-order': return joinOrder();
    case 'cleanup': return cleanup();
    case 'tasks': return tasks();
    case 'no-daemon': return emperor(false);
    case 'daemon': return emperor(true);
    case undefined:
      await memory();
      await joinOrder();
      await cleanup();
      console.log('\n== 000: daemon = true: the child dies with the parent');
      return emperor(true);
    default:
      console.error(`unknown program ${program}`);
      process.exitCode = 2;
  }
}

// No catch here: in the child of an async target, start() throws an unwind error that must
// reach the top (the library keeps it silent there); a real error still ends the program.
void main();
