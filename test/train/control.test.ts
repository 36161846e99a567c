/**
 * Pause, resume and stop through a TrainingControl, sent from the event listener as a UI would: a pause
 * takes effect at the next step boundary and holds the run (no steps while paused), resume carries on to
 * the end, and a stop while paused ends the run with a checkpoint and no 'resumed'.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunEvent } from '../../engine/protocol/events';
import { listCheckpoints, loadCheckpoint } from '../../engine/train/checkpoint';
import { resolveRunConfig, type RunConfig } from '../../engine/train/config';
import { TrainingControl } from '../../engine/train/control';
import { train } from '../../engine/train/trainer';
import { removeModelDirs } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, readEventLines, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('pause, resume and stop', () => {
  let base: Omit<RunConfig, 'output_dir'>;
  let dir: string;
  before(() => {
    const gen = makeTinyModel({ seed: 4 });
    dir = tempDir();
    base = resolveRunConfig({
      model: gen.dir, train_file: writeTsv(path.join(dir, 'train.tsv'), makeRows(16, 2)), max_steps: 6,
      per_device_train_batch_size: 4, eval_split: 0, save_steps: 0,
    });
  });

  it('pause at step 3 holds the run until resume; then it finishes every step', async () => {
    const control = new TrainingControl();
    const events: RunEvent[] = [];
    let stepsWhilePaused = 0;
    const result = await train({ ...base, output_dir: path.join(dir, 'pause') }, {
      control,
      onEvent: (e) => {
        events.push(e);
        if (control.isPaused && e.type === 'step') stepsWhilePaused += 1;
        if (e.type === 'step' && e.step === 3) control.send('pause');
        if (e.type === 'paused') setTimeout(() => control.send('resume'), 80);
      },
    });
    assert.equal(result.status, 'finished', result.reason);
    assert.equal(result.losses.length, 6);
    assert.equal(stepsWhilePaused, 0, 'steps ran while paused');
    const types = events.map((e) => (e.type === 'step' ? `step${e.step}` : e.type));
    const i = types.indexOf('paused');
    assert.ok(i > 0, `no paused event: ${types.join(' ')}`);
    assert.deepEqual(types.slice(i - 1, i + 3), ['step3', 'paused', 'resumed', 'step4']);
    const paused = ofType(events, 'paused')[0]!;
    const resumed = ofType(events, 'resumed')[0]!;
    assert.equal(paused.step, 3);
    assert.equal(resumed.step, 3);
    assert.ok(Date.parse(resumed.time) - Date.parse(paused.time) >= 60, `paused for only ${Date.parse(resumed.time) - Date.parse(paused.time)} ms`);
    assert.equal(ofType(events, 'paused').length, 1);
    assert.equal(ofType(events, 'resumed').length, 1);
    assert.equal(events.at(-1)!.type, 'finished');
    assert.deepEqual(ofType(events, 'step').map((s) => s.step), [1, 2, 3, 4, 5, 6]);
    // The file says the same.
    assert.deepEqual(readEventLines(result.runDir).events.map((e) => e.type), events.map((e) => e.type));
  });

  it('stop while paused ends the run at that step with a checkpoint, without resuming', async () => {
    const control = new TrainingControl();
    const events: RunEvent[] = [];
    const result = await train({ ...base, output_dir: path.join(dir, 'stop') }, {
      control,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'step' && e.step === 2) control.send('pause');
        if (e.type === 'paused') setTimeout(() => control.send('stop', 'user stop'), 20);
      },
    });
    assert.equal(result.status, 'stopped');
    assert.equal(result.step, 2);
    assert.deepEqual(events.map((e) => e.type).slice(-4), ['step', 'paused', 'checkpoint', 'stopped']);
    const end = events.at(-1)!;
    assert.equal(end.type === 'stopped' && end.reason, 'user stop');
    assert.equal(ofType(events, 'resumed').length, 0);
    const ckpts = listCheckpoints(result.runDir);
    assert.equal(ckpts.length, 1);
    assert.equal(loadCheckpoint(ckpts[0]!).state.step, 2);
  });

  it('a stop sent before the first step ends the run at step 0 with a checkpoint of the initial state', async () => {
    const control = new TrainingControl();
    control.send('stop');
    const events: RunEvent[] = [];
    const result = await train({ ...base, output_dir: path.join(dir, 'early') }, { control, onEvent: (e) => events.push(e) });
    assert.equal(result.status, 'stopped');
    assert.deepEqual(events.map((e) => e.type), ['started', 'checkpoint', 'stopped']);
    assert.equal(loadCheckpoint(listCheckpoints(result.runDir)[0]!).state.step, 0);
  });
});
