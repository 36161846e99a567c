/**
 * `train --train …/train.tsv` with no --eval: the dev split beside it (GLUE / HF layout) is the eval set, and
 * the run says so; only without one is part of the training data held out.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import type { StartedEvent } from '../../engine/protocol/events';
import { resolveRunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { removeModelDirs } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, readEventLines, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

let modelDir = '';
before(async () => {
  await initBackend({ backend: 'cpu', reinit: true });
  modelDir = makeTinyModel().dir;
});
after(() => {
  removeModelDirs();
  removeTempDirs();
});

async function started(dir: string, extra: Record<string, unknown> = {}): Promise<StartedEvent> {
  const r = await train(resolveRunConfig({ model: modelDir, train_file: path.join(dir, 'train.tsv'), output_dir: path.join(dir, `run-${Date.now()}`), max_steps: 1, backend: 'cpu', ...extra }));
  assert.equal(r.status, 'finished', r.reason);
  return ofType(readEventLines(r.runDir).events, 'started')[0]!;
}

describe('the eval file beside the train file', () => {
  it('GLUE layout: dev.tsv is the eval set, all of train.tsv trains, and the run says which file', async () => {
    const dir = tempDir('peft-glue-layout-');
    writeTsv(path.join(dir, 'train.tsv'), makeRows(40, 1));
    writeTsv(path.join(dir, 'dev.tsv'), makeRows(12, 2));
    const s = await started(dir);
    assert.equal(s.data.train, 40);
    assert.equal(s.data.eval, 12);
    assert.equal(s.config.eval_file, path.join(dir, 'dev.tsv'));
    assert.ok(s.notices.some((n) => /evaluating on dev\.tsv \(12 examples\), the split beside train\.tsv/.test(n)), s.notices.join('\n'));
    assert.ok(!s.notices.some((n) => /held out/.test(n)));
  });

  it('no split beside it: 10% of the training data is held out, as before; --eval-split still holds out', async () => {
    const dir = tempDir('peft-no-layout-');
    writeTsv(path.join(dir, 'train.tsv'), makeRows(40, 1));
    const s = await started(dir);
    assert.deepEqual([s.data.train, s.data.eval], [36, 4]);
    assert.ok(s.notices.some((n) => /held out 4 of 40/.test(n)));
    writeTsv(path.join(dir, 'dev.tsv'), makeRows(12, 2));
    const explicit = await started(dir, { eval_split: 0.25 });
    assert.deepEqual([explicit.data.train, explicit.data.eval], [30, 10]);
  });
});
