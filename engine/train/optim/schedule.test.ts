import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftStudioError } from '../../errors';
import { lrAt, resolveWarmupSteps, type ScheduleOptions } from './schedule';

/** Expected values below are worked by hand from the HF formulas; compare to float64 rounding. */
function close(got: number, want: number, label: string): void {
  assert.ok(Math.abs(got - want) <= 1e-15 + 1e-12 * Math.abs(want), `${label}: got ${got}, want ${want}`);
}

function check(opts: ScheduleOptions, table: [step: number, lr: number][]): void {
  for (const [step, want] of table) close(lrAt(step, opts), want, `${opts.type} step ${step}`);
}

const base = 1e-3;

test('constant: base lr at every step, warmup ignored (get_constant_schedule)', () => {
  check({ type: 'constant', baseLr: base, warmupSteps: 10, totalSteps: 20 }, [
    [0, 1e-3],
    [5, 1e-3],
    [1000, 1e-3],
  ]);
});

test('constant_with_warmup: step/warmup ramp, then base', () => {
  check({ type: 'constant_with_warmup', baseLr: base, warmupSteps: 4 }, [
    [0, 0], // HF: the first update uses lr 0
    [1, 2.5e-4],
    [3, 7.5e-4],
    [4, 1e-3], // warmup boundary: lambda = 1
    [1000, 1e-3],
  ]);
});

test('linear: ramp over warmup, then (total-step)/(total-warmup) down to 0 and clamped', () => {
  check({ type: 'linear', baseLr: base, warmupSteps: 4, totalSteps: 20 }, [
    [0, 0],
    [2, 5e-4],
    [4, 1e-3], // (20-4)/16 = 1
    [12, 5e-4], // 8/16
    [19, 6.25e-5], // 1/16: the last update
    [20, 0],
    [25, 0], // max(0, negative)
  ]);
  // No warmup: the first update already uses the full rate (total/total).
  check({ type: 'linear', baseLr: base, warmupSteps: 0, totalSteps: 10 }, [
    [0, 1e-3],
    [5, 5e-4],
    [9, 1e-4],
    [10, 0],
  ]);
});

test('cosine: ramp, then 0.5*(1+cos(pi*2*0.5*progress)) (num_cycles 0.5)', () => {
  check({ type: 'cosine', baseLr: base, warmupSteps: 4, totalSteps: 20 }, [
    [0, 0],
    [1, 2.5e-4],
    [4, 1e-3], // progress 0: cos 0 = 1
    [8, 8.535533905932737e-4], // progress 1/4: 0.5*(1+cos(pi/4)) = 0.5*(1+0.7071067811865476)
    [12, 5e-4], // progress 1/2: cos(pi/2) = 0
    [20, 0], // progress 1: cos(pi) = -1
    // Past the end HF does not clamp progress, so the curve comes back up: 0.5*(1+cos(5pi/4)) = 0.1464…
    // (HF's max(0, ...) only guards num_cycles > 0.5). A trainer never asks for a step past totalSteps.
    [24, 1.4644660940672624e-4],
  ]);
  // num_cycles 1: back up to base at the end.
  check({ type: 'cosine', baseLr: base, warmupSteps: 0, totalSteps: 8, numCycles: 1 }, [
    [4, 0],
    [8, 1e-3],
  ]);
});

test('warmup_ratio -> ceil(total * ratio), explicit warmup steps win (TrainingArguments.get_warmup_steps)', () => {
  assert.equal(resolveWarmupSteps({ totalSteps: 200, warmupRatio: 0.1 }), 20);
  assert.equal(resolveWarmupSteps({ totalSteps: 25, warmupRatio: 0.1 }), 3); // 2.5 -> 3
  // 100 * 0.07 is 7.000000000000001 in float64, so Python's math.ceil gives 8; we must too.
  assert.equal(resolveWarmupSteps({ totalSteps: 100, warmupRatio: 0.07 }), 8);
  assert.equal(resolveWarmupSteps({ totalSteps: 100, warmupSteps: 5, warmupRatio: 0.5 }), 5);
  assert.equal(resolveWarmupSteps({ totalSteps: 100, warmupSteps: 0, warmupRatio: 0.5 }), 50);
  assert.equal(resolveWarmupSteps({ totalSteps: 100 }), 0);
});

test('schedules reject bad input', () => {
  const isBad = (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT';
  assert.throws(() => lrAt(0, { type: 'linear', baseLr: base, warmupSteps: 2 }), isBad); // no totalSteps
  assert.throws(() => lrAt(-1, { type: 'constant', baseLr: base }), isBad);
  assert.throws(() => lrAt(1.5, { type: 'constant', baseLr: base }), isBad);
  assert.throws(() => lrAt(0, { type: 'cosine', baseLr: NaN, totalSteps: 3 }), isBad);
  assert.throws(() => lrAt(0, { type: 'nope' as 'constant', baseLr: base }), isBad);
  assert.throws(() => resolveWarmupSteps({ totalSteps: 10, warmupRatio: 2 }), isBad);
});
