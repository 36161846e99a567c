/**
 * Learning-rate schedules with the formulas of HF `transformers.optimization`, so a run configured like an
 * HF Trainer run sees the same rate at every step.
 *
 * HF wraps these in a LambdaLR: the rate used for update k (0-based, i.e. after k optimizer steps) is
 * `baseLr * lambda(k)`. Hence `lrAt(step)` takes the number of steps already taken; with warmup the first
 * update therefore uses rate 0, exactly as HF does.
 */
import { PeftStudioError } from '../../errors';

export type ScheduleType = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

export interface ScheduleOptions {
  type: ScheduleType;
  baseLr: number;
  /** Ignored by 'constant' (as HF's get_constant_schedule). Default 0. */
  warmupSteps?: number;
  /** Total optimizer steps; required by 'linear' and 'cosine'. */
  totalSteps?: number;
  /** Cosine only: number of cosine waves; HF default 0.5 (one half-wave from base down to 0). */
  numCycles?: number;
}

/** The learning rate for the update that follows `step` completed optimizer steps. */
export function lrAt(step: number, opts: ScheduleOptions): number {
  if (!Number.isInteger(step) || step < 0) throw bad(`step must be a non-negative integer, got ${step}`);
  if (!(opts.baseLr >= 0) || !Number.isFinite(opts.baseLr)) throw bad(`invalid base learning rate ${opts.baseLr}`);
  return opts.baseLr * lambda(step, opts);
}

function lambda(step: number, opts: ScheduleOptions): number {
  const warmup = opts.warmupSteps ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw bad(`warmupSteps must be a non-negative integer, got ${warmup}`);
  // Shared warmup ramp of get_constant_schedule_with_warmup / linear / cosine.
  const warm = (): number => step / Math.max(1, warmup);
  switch (opts.type) {
    case 'constant':
      return 1;
    case 'constant_with_warmup':
      return step < warmup ? warm() : 1;
    case 'linear': {
      const total = totalOf(opts);
      if (step < warmup) return warm();
      return Math.max(0, (total - step) / Math.max(1, total - warmup));
    }
    case 'cosine': {
      const total = totalOf(opts);
      const numCycles = opts.numCycles ?? 0.5;
      if (step < warmup) return warm();
      // As HF, progress is not clamped: past totalSteps the rate rises again (the trainer never goes there).
      const progress = (step - warmup) / Math.max(1, total - warmup);
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
    }
    default:
      throw bad(`unknown schedule type '${(opts as { type: string }).type}'`);
  }
}

/**
 * Warmup steps the way HF TrainingArguments.get_warmup_steps resolves them: an explicit warmupSteps > 0 wins,
 * otherwise ceil(totalSteps * warmupRatio). The product is taken in that order, in float64, as Python does —
 * e.g. 100 * 0.07 = 7.000000000000001, so HF (and this) give 8 warmup steps, not 7.
 */
export function resolveWarmupSteps(o: { totalSteps: number; warmupSteps?: number; warmupRatio?: number }): number {
  if (o.warmupSteps !== undefined && o.warmupSteps > 0) {
    if (!Number.isInteger(o.warmupSteps)) throw bad(`warmupSteps must be an integer, got ${o.warmupSteps}`);
    return o.warmupSteps;
  }
  const ratio = o.warmupRatio ?? 0;
  if (!(ratio >= 0 && ratio <= 1)) throw bad(`warmupRatio must be in [0, 1], got ${ratio}`);
  return Math.ceil(o.totalSteps * ratio);
}

function totalOf(opts: ScheduleOptions): number {
  const total = opts.totalSteps;
  if (total === undefined || !Number.isInteger(total) || total < 0) {
    throw bad(`schedule '${opts.type}' needs totalSteps (a non-negative integer), got ${total}`);
  }
  return total;
}

function bad(message: string): PeftStudioError {
  return new PeftStudioError('BAD_INPUT', `lr schedule: ${message}`);
}
