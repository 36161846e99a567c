/**
 * The fuzz suite: ≥ 10,000 seeded malformed inputs, every parser and loader (see kinds/), run in a child
 * process under a watchdog so that a hang is a failure naming the case instead of a stuck CI job. Prints the
 * case count per input kind. Reproduce a reported case with FUZZ_SEED / FUZZ_KINDS (and FUZZ_SCALE for more).
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Escape, KindResult } from './harness';

/** No word from the runner for this long means a case hangs. */
const WATCHDOG_MS = 60_000;

interface RunnerReport {
  results: KindResult[];
  hang?: string;
  exit?: string;
}

function runFuzz(): Promise<RunnerReport> {
  return new Promise((resolve) => {
    const child = fork(path.join(__dirname, 'runner.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const report: RunnerReport = { results: [] };
    let lastCase = 'before the first case';
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        report.hang = `no progress for ${WATCHDOG_MS / 1000} s after ${lastCase}`;
        child.kill('SIGKILL');
      }, WATCHDOG_MS);
    };
    arm();
    child.on('message', (m: { type: string; kind?: string; index?: number; result?: KindResult }) => {
      arm();
      if (m.type === 'case') lastCase = `${m.kind} case ${m.index} (cases ${m.index}–${m.index! + 19})`;
      if (m.type === 'result') report.results.push(m.result!);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0 && !report.hang) report.exit = `runner exited with ${code ?? signal}`;
      resolve(report);
    });
  });
}

function describeEscape(e: Escape): string {
  return `  [${e.kind} #${e.index}, case seed ${e.seed}] ${e.label}\n    → ${e.problem.split('\n').join('\n      ')}`;
}

test('fuzz: every malformed input ends in success or a PeftStudioError naming its file', { timeout: 15 * 60_000 }, async () => {
  const t0 = Date.now();
  const { results, hang, exit } = await runFuzz();
  const total = results.reduce((a, r) => a + r.cases, 0);
  const width = Math.max(...results.map((r) => r.kind.length), 10);
  const rows = results.map((r) => `  ${r.kind.padEnd(width)} ${String(r.cases).padStart(6)} ${String(r.ok).padStart(6)} ${String(r.refused).padStart(7)} ${String(r.escapes.length).padStart(7)} ${r.seconds.toFixed(1).padStart(7)} s  (slowest case ${Math.round(r.slowestMs)} ms)`);
  console.log(
    [
      `fuzz (seed ${process.env.FUZZ_SEED ?? 18}): ${total.toLocaleString('en-US')} cases in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `  ${'kind'.padEnd(width)}  cases     ok refused escapes    time`,
      ...rows,
    ].join('\n'),
  );
  assert.equal(hang, undefined, hang);
  assert.equal(exit, undefined, exit);
  const escapes = results.flatMap((r) => r.escapes);
  assert.deepEqual(escapes.length, 0, `${escapes.length} cases escaped:\n${escapes.slice(0, 25).map(describeEscape).join('\n')}`);
  if (!process.env.FUZZ_KINDS && Number(process.env.FUZZ_SCALE ?? 1) >= 1) assert.ok(total >= 10_000, `only ${total} cases ran`);
});
