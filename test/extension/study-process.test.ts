/**
 * The host side of a study run: the CLI in a child process (here a stand-in cli.js speaking the same JSON
 * lines and stdin control as `peft-studio study --json --control stdin`), its events folded into progress,
 * report.json read after each run, `stop` sent on stdin, a refused study's error shown.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { StudyProcess, StudyTracker } from '../../extension/src/core/studyProcess';
import type { StudyOutput } from '../../protocol/study';

const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-study-proc-'));
after(() => fs.rmSync(dist, { recursive: true, force: true }));

// Emits the study's events like the CLI: a run that steps until `stop` arrives on stdin.
fs.writeFileSync(path.join(dist, 'cli.js'), `
const fs = require('node:fs');
const path = require('node:path');
const args = process.argv.slice(2);
const out = args[args.indexOf('--out') + 1];
fs.writeFileSync(path.join(out, 'args.json'), JSON.stringify(args));
if (args[1].endsWith('bad.yaml')) { process.stderr.write('error: study: axes.sede is not a run setting\\n'); process.exit(1); }
const emit = (e) => process.stdout.write(JSON.stringify(e) + '\\n');
emit({ type: 'study-started', runs: 3, done: 1, outDir: out });
emit({ type: 'run-started', id: 'a', index: 1, runs: 3, resume: false });
emit({ type: 'run-event', id: 'a', event: { v: 1, type: 'started', totalSteps: 100 } });
fs.writeFileSync(path.join(out, 'report.json'), JSON.stringify({ v: 1, name: 's', metric: 'accuracy', axes: ['method'], counts: { finished: 1, pending: 2 }, total: 3, rows: [], charts: [], grids: [], notFinished: [] }));
emit({ type: 'run-ended', id: 'x', index: 0, status: 'failed', reason: 'bad data\\nmore', seconds: 0 });
let step = 0;
const timer = setInterval(() => emit({ type: 'run-event', id: 'a', event: { v: 1, type: 'step', step: ++step } }), 20);
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  if (l.trim() !== 'stop') return;
  clearInterval(timer);
  emit({ type: 'run-ended', id: 'a', index: 1, status: 'stopped', seconds: 1 });
  emit({ type: 'study-ended', status: 'stopped', counts: {}, report: { dir: out, files: [] } });
  process.exit(130);
});
`);

function launch(file: string, onChange: (o: StudyOutput) => void = () => {}): { proc: StudyProcess; out: string } {
  const out = fs.mkdtempSync(path.join(dist, 'out-'));
  return { proc: new StudyProcess({ distDir: dist, backend: 'wasm', file: path.join(out, file), baseDir: '/notebooks', outDir: out, name: 's' }, onChange), out };
}

describe('study process', () => {
  it('follows the study live and stops it through stdin; the runs it finished stay', async () => {
    let sawStep = false;
    let stopSent = false;
    const tracker = new StudyTracker();
    const seen: string[] = [];
    tracker.onDidChange((_dir, o) => seen.push(o.status));
    const { proc, out } = launch('s.yaml', (o) => {
      tracker.set(o);
      if ((o.current?.step ?? 0) >= 3 && !stopSent) {
        sawStep = true;
        stopSent = true;
        assert.equal(o.current!.totalSteps, 100);
        assert.equal(o.total, 3);
        assert.deepEqual(o.failures, [{ id: 'x', reason: 'bad data' }]);
        assert.deepEqual(o.report?.counts, { finished: 1, pending: 2 }, 'report.json read after a run ended');
        proc.stop();
      }
    });
    const final = await proc.done;
    assert.ok(sawStep);
    assert.equal(final.status, 'stopped');
    assert.equal(final.error, undefined);
    assert.equal(final.current, undefined);
    assert.equal(tracker.get(out)?.status, 'stopped');
    assert.ok(seen.includes('running'));
    const args = JSON.parse(fs.readFileSync(path.join(out, 'args.json'), 'utf8')) as string[];
    assert.deepEqual(args.slice(0, 1), ['study']);
    for (const a of ['--json', '--control', 'stdin', '--base-dir', '/notebooks', '--out', out]) assert.ok(args.includes(a), a);
  });

  it('a study the engine refuses fails with its error line, and nothing else', async () => {
    const { proc } = launch('bad.yaml');
    const final = await proc.done;
    assert.equal(final.status, 'failed');
    assert.equal(final.error, 'study: axes.sede is not a run setting');
  });
});
