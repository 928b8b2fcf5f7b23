// Seed 002 cure 2: the parent polls with waitpid(-1, WNOHANG) every half second ("one
// loop...") until the child is reaped; between the child's exit and the next poll it is a zombie.
import { fork, reapChildren } from '../../index';
import { DemoOutput, nameProcess, sleep, stateOf } from './context';

const POLL_MS = 500;

export async function reapPollDemo(out: DemoOutput): Promise<void> {
  out.title('reap-poll', 'cure 2: the parent polls with waitpid(-1, WNOHANG)');
  out.explain(
    'WNOHANG makes waitpid() return at once when no child has ended, so a busy parent can',
    `check now and then. Here it checks every ${POLL_MS} ms with reapChildren({ scope: "all" }).`,
    'The price: between the exit and the next check, the child is a zombie.',
  );
  nameProcess('reap-poll', 'parent');
  const parent = process.pid;
  out.say('parent', `Before the fork, parent pid is ${parent}`);
  const child = fork();
  if (child === 0) {
    out.say('child', 'Child sleeping 1.2 seconds...');
    nameProcess('reap-poll', 'child');
    setTimeout(() => {
      out.say('child', 'Child sleep done.');
      process.exit(0);
    }, 1200);
    return new Promise(() => {}); // the child ends in the timer above
  }
  out.say('parent', `Hello from the parent, the child pid is ${child}`);
  let shownZombie = false;
  for (let loop = 0; loop < 40; loop++) {
    await sleep(POLL_MS);
    if (!shownZombie && stateOf(child) === 'Z') {
      shownZombie = true;
      out.line();
      out.table('before this poll the child has exited but is not reaped yet:', [parent, child],
        new Map([[child, '← zombie until the next poll']]));
      out.line();
    }
    const statuses = reapChildren({ scope: 'all' });
    out.say('parent', 'one loop...');
    const mine = statuses.find((status) => status.pid === child);
    if (mine !== undefined) {
      out.say('parent', `reaped child process ${child}, status ${mine.status}`);
      out.line();
      out.table('after the poll that reaped it:', [parent, child]);
      if (stateOf(child) !== null) throw new Error(`child ${child} is still in the process table`);
      out.line();
      out.say('parent', 'Parent run end...');
      out.good('no zombie left behind');
      return;
    }
  }
  throw new Error(`child ${child} was not reaped by polling`);
}
