/**
 * A run that diverges without ever producing a NaN (learning rate 1e6) is reported as diverging in the event
 * stream, the CLI and the dashboard's run view; a run that fails inside a step reports the same step number
 * in its reason and in the CLI's last line.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProgressView } from '../../engine/cli/progress';
import type { EndEvent, LogEvent, RunEvent } from '../../engine/protocol/events';
import { resolveRunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { applyEvent, emptyRunView } from '../../protocol/webview';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

let gen: GeneratedModel;
let dir: string;
let trainFile: string;
before(() => {
  gen = makeTinyModel({ seed: 11 });
  dir = tempDir();
  trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(32, 3));
});

/** What a ProgressView prints to stderr for these events (not a terminal: plain lines). */
function printed(events: RunEvent[]): string {
  const view = new ProgressView();
  const chunks: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    for (const e of events) view.onEvent(e);
  } finally {
    process.stderr.write = write;
    view.close();
  }
  return chunks.join('');
}

describe('divergence', () => {
  it('learning_rate 1e6: a warn log event names the divergence at a step the step events also name', async () => {
    const events: RunEvent[] = [];
    const config = resolveRunConfig({ model: gen.dir, train_file: trainFile, max_steps: 12, per_device_train_batch_size: 8, eval_split: 0, learning_rate: 1e6, max_grad_norm: 0, output_dir: path.join(dir, 'lr1e6'), save_steps: 0 });
    await train(config, { onEvent: (e) => events.push(e) });
    const warns = events.filter((e): e is LogEvent => e.type === 'log' && e.level === 'warn');
    assert.ok(warns.length >= 1, `no divergence warning; losses: ${events.filter((e) => e.type === 'step').map((e) => (e as { loss: number }).loss).join(', ')}`);
    assert.match(warns[0]!.message, /diverging|exploding gradients/);
    const at = Number(/at step (\d+)/.exec(warns[0]!.message)![1]);
    const stepIdx = events.findIndex((e) => e.type === 'step' && e.step === at);
    assert.ok(stepIdx >= 0 && stepIdx < events.indexOf(warns[0]!), 'the warning follows the step event it names');

    // The dashboard's run view and the CLI both carry it.
    const view = emptyRunView('r', 'r', 'running');
    for (const e of events) applyEvent(view, e);
    assert.deepEqual(view.warnings, warns.map((w) => w.message));
    const out = printed(events);
    assert.ok(out.includes(`warning: ${warns[0]!.message}`), out);
    const end = out.slice(out.lastIndexOf('\n' + events.at(-1)!.type));
    assert.ok(end.includes(`warning: ${warns[0]!.message}`), `the warning is repeated under the final line:\n${end}`);
  });

  it('a sane learning rate says nothing', async () => {
    const events: RunEvent[] = [];
    const config = resolveRunConfig({ model: gen.dir, train_file: trainFile, max_steps: 8, per_device_train_batch_size: 8, eval_split: 0, learning_rate: 1e-3, output_dir: path.join(dir, 'sane'), save_steps: 0 });
    const result = await train(config, { onEvent: (e) => events.push(e) });
    assert.equal(result.status, 'finished');
    assert.deepEqual(events.filter((e) => e.type === 'log'), []);
  });
});

describe('the step a failure names', () => {
  it("the CLI's last line and the reason agree: 'failed after step 5: loss became NaN at step 6'", () => {
    const end: EndEvent = { v: 1, type: 'failed', step: 5, time: '', reason: 'loss became NaN at step 6; training stopped', code: 'TRAINING', seconds: 1 };
    const out = printed([end]);
    assert.match(out, /failed after step 5 \(1\.0 s\): loss became NaN at step 6/);
    assert.doesNotMatch(out, /failed at step 5/);
  });
});
