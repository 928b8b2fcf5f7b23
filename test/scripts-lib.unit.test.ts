// scripts/lib.ts: how a jest failure is told in a check script's log (test:matrix, test:arm64).
import * as path from 'path';
import { ROOT, failureDetail, firstLine, jestFailures } from '../scripts/lib';

// A failure message as jest's JSON report holds it: colours, the diff, then the stack.
const MESSAGE = [
  '\u001b[2mexpect(\u001b[22mreceived\u001b[2m).\u001b[22mtoEqual\u001b[2m(\u001b[22mexpected\u001b[2m)\u001b[22m // deep equality',
  '',
  '- Expected  - 1',
  '+ Received  + 0',
  '',
  '  Array [',
  '-   3,',
  '  ]',
  '',
  '    at Object.<anonymous> (/repo/test/reaper.test.ts:176:26)',
  '    at processTicksAndRejections (node:internal/process/task_queues:95:5)',
].join('\n');

describe('failureDetail', () => {
  test('the lines after the first, up to the stack, without colours, indented', () => {
    expect(failureDetail(MESSAGE).split('\n')).toEqual([
      '',
      '      ',
      '      - Expected  - 1',
      '      + Received  + 0',
      '      ',
      '        Array [',
      '      -   3,',
      '        ]',
    ]);
  });

  test('a one-line message has no detail; a long one is cut at 40 lines', () => {
    expect(failureDetail('Error: boom\n    at x (y.js:1:1)')).toBe('');
    const long = ['first', ...Array.from({ length: 100 }, (_, i) => `line ${i}`)].join('\n');
    expect(failureDetail(long).split('\n').slice(1)).toHaveLength(40);
  });
});

test('jestFailures: file › test name: first line, then the detail', () => {
  const report = {
    testResults: [
      {
        name: path.join(ROOT, 'test', 'reaper.test.ts'),
        status: 'failed',
        message: '',
        assertionResults: [
          { status: 'passed', fullName: 'fine', failureMessages: [] },
          { status: 'failed', fullName: 'sweep', failureMessages: [MESSAGE] },
        ],
      },
    ],
  };
  const [failure, ...others] = jestFailures(report as never);
  expect(others).toEqual([]);
  expect(failure.startsWith(`test/reaper.test.ts › sweep: ${firstLine(MESSAGE)}\n`)).toBe(true);
  expect(failure).toContain('\n      -   3,');
  expect(failure).not.toContain(' at ');
});
