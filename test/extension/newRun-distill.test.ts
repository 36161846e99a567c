import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DISTILL_DEFAULTS } from '../../engine/distill/config';
import { resolveRunConfig } from '../../engine/train/config';
import { defaultStudentLayers, distillNumberDefaults, distillNumberError, distillRunConfig, studentLayerPicks, DISTILL_NUMBERS } from '../../extension/src/newRunPlan';

const training = { learningRate: 5e-4, epochs: 2, batchSize: 8, maxLength: 64 };

describe('New Run: distil a trained run', () => {
  it('offers half the teacher’s layers first, then every other count below the teacher’s', () => {
    assert.equal(defaultStudentLayers(12), 6);
    assert.equal(defaultStudentLayers(3), 1);
    assert.equal(defaultStudentLayers(1), 1);
    const picks = studentLayerPicks(4);
    assert.deepEqual(picks.map((p) => p.layers), [2, 1, 3]);
    assert.deepEqual(picks.map((p) => p.isDefault), [true, false, false]);
    assert.equal(picks[0]!.label, '2 of 4 layers');
  });

  it('asks every distillation number the engine has, starting from its defaults or the last answers', () => {
    const keys = DISTILL_NUMBERS.map((n) => n.key).sort();
    assert.deepEqual(keys, Object.keys(DISTILL_DEFAULTS).filter((k) => k !== 'cache_max_mib').sort());
    const start = distillNumberDefaults(DISTILL_DEFAULTS, { temperature: 4, alpha_cos: Number.NaN });
    assert.equal(start.temperature, 4);
    assert.equal(start.alpha_cos, DISTILL_DEFAULTS.alpha_cos);
    assert.equal(start.alpha_kd, DISTILL_DEFAULTS.alpha_kd);
  });

  it('checks the numbers: a positive temperature, weights at least 0', () => {
    assert.equal(distillNumberError('temperature', '0'), 'a positive number');
    assert.equal(distillNumberError('temperature', '2'), undefined);
    assert.equal(distillNumberError('alpha_task', '0'), undefined);
    assert.equal(distillNumberError('alpha_kd', '-1'), 'a number ≥ 0');
    assert.equal(distillNumberError('alpha_kd', 'x'), 'a number');
    assert.equal(distillNumberError('alpha_kd', ' '), 'a number');
  });

  it('builds a config the engine resolves: teacher layers as the student, the student’s method and settings', () => {
    const config = distillRunConfig({
      teacher: '/runs/sst2-full',
      teacherLabel: 'sst2 full',
      student: { layers: 2 },
      studentMethod: { name: 'lora', r: 4 },
      numbers: { temperature: 3, alpha_kd: 0.7, alpha_task: 0.3, alpha_cos: 0.1 },
      trainFile: '/data/sentiment/train.tsv',
      training,
    });
    assert.match(String(config.run_name), /^train · distil sst2 full → 2 layers · LoRA r=4$/);
    assert.equal(config.model, undefined, 'the student comes from the teacher');
    const resolved = resolveRunConfig(config as Parameters<typeof resolveRunConfig>[0], '/');
    assert.equal(resolved.distill?.teacher, '/runs/sst2-full');
    assert.equal(resolved.distill?.student_layers, 2);
    assert.equal(resolved.distill?.temperature, 3);
    assert.equal(resolved.distill?.alpha_cos, 0.1);
    assert.equal(resolved.model, '/runs/sst2-full');
    assert.equal(resolved.method.name, 'lora');
    assert.equal(resolved.method.r, 4);
    assert.equal(resolved.learning_rate, 5e-4);
  });

  it('a student model folder goes in distill.student, with the eval file when there is one', () => {
    const config = distillRunConfig({
      teacher: '/m/teacher',
      teacherLabel: 'teacher',
      student: { model: '/m/small-bert' },
      studentMethod: { name: 'full' },
      numbers: { temperature: 2, alpha_kd: 0.5, alpha_task: 0.5, alpha_cos: 0 },
      trainFile: '/d/t.csv',
      evalFile: '/d/e.csv',
      training,
    });
    const resolved = resolveRunConfig(config as Parameters<typeof resolveRunConfig>[0], '/');
    assert.equal(resolved.model, '/m/small-bert');
    assert.equal(resolved.distill?.student, '/m/small-bert');
    assert.equal(resolved.distill?.student_layers, undefined);
    assert.equal(resolved.eval_file, '/d/e.csv');
    assert.match(String(config.run_name), /small-bert · Full/);
  });
});
