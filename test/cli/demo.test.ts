/**
 * `peft-studio demo --model ../shared/models/bert-mlm-tiny`, the README's first command, as a new user runs
 * it: the summary puts the eval accuracy beside the majority-class baseline and the train and eval losses
 * first → last, and the run it leaves is checked against the bar a demo must clear — the loss falls clearly
 * and dev accuracy is at least 20 points above the majority class.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EvalEvent, StartedEvent, StepEvent } from '../../engine/protocol/events';
import { readEvents } from '../../engine/train/run-dir';
import { sharedPath } from '../parity/reference';
import { runCli } from '../helpers/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-demo-'));
const runDir = path.join(tmp, 'run');
let stderr = '';
let code = -1;

before(async () => {
  ({ code, stderr } = await runCli(['demo', '--model', sharedPath('models', 'bert-mlm-tiny'), '--out', runDir]));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run() {
  const { events } = readEvents(runDir);
  const started = events.find((e): e is StartedEvent => e.type === 'started')!;
  const steps = events.filter((e): e is StepEvent => e.type === 'step');
  const evals = events.filter((e): e is EvalEvent => e.type === 'eval');
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const per = started.stepsPerEpoch;
  return {
    started,
    firstEpoch: mean(steps.slice(0, per).map((s) => s.loss)),
    lastEpoch: mean(steps.slice(-per).map((s) => s.loss)),
    evals,
    accuracy: evals.at(-1)!.metrics.accuracy!,
  };
}

describe('peft-studio demo', () => {
  it('finishes, and its summary shows the accuracy beside the majority-class baseline and the losses first → last', () => {
    assert.equal(code, 0, stderr);
    const r = run();
    assert.equal(r.started.data.evalMajority, 0.5, 'the bundled dev set is balanced');
    assert.match(stderr, /^ {2}eval accuracy +0\.\d{4} {3}\(majority class: 0\.5000\)$/m);
    assert.match(stderr, new RegExp(`^ {2}train loss \\(mean of ${r.started.stepsPerEpoch} steps\\) +${r.firstEpoch.toFixed(4)} first → ${r.lastEpoch.toFixed(4)} last$`, 'm'));
    assert.match(stderr, new RegExp(`^ {2}eval loss +${r.evals[0]!.loss.toFixed(4)} first → ${r.evals.at(-1)!.loss.toFixed(4)} last$`, 'm'));
    // The backend is one line that says where the reasons for skipped backends are, not the reasons themselves.
    const backend = stderr.split('\n').find((l) => l.startsWith('note: backend: '))!;
    assert.ok(backend, 'a backend line');
    assert.doesNotMatch(backend, /not installed|no adapter/);
  });

  it('learns visibly: the train loss falls by 0.05 or more, eval loss falls, and dev accuracy is ≥ majority + 0.20', () => {
    const r = run();
    assert.ok(r.firstEpoch - r.lastEpoch >= 0.05, `train loss (epoch means) ${r.firstEpoch.toFixed(4)} → ${r.lastEpoch.toFixed(4)}`);
    assert.ok(r.evals.at(-1)!.loss < r.evals[0]!.loss, 'eval loss falls');
    assert.ok(r.accuracy >= r.started.data.evalMajority! + 0.2, `dev accuracy ${r.accuracy} vs majority ${r.started.data.evalMajority}`);
  });
});
