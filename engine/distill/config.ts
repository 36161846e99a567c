/**
 * Distillation settings (DistilBERT's task-specific recipe, Sanh et al.): a run config's `distill` block,
 * or a `method: { name: distill, … }` spec whose `student_method` is the method the student trains with.
 *
 *   loss = alpha_kd · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T))      (regression: MSE to the teacher)
 *        + alpha_task · the task loss on the labels
 *        + alpha_cos · (1 − cos(h_s[CLS], h_t[CLS]))                      (projected when widths differ)
 */
import { PeftStudioError } from '../errors';
import type { MethodSpec } from '../peft/types';

export interface DistillSettings {
  /** A run folder (its best checkpoint, any method) or an HF fine-tuned model folder. */
  teacher: string;
  /** Teacher layers the student keeps (DistilBERT-style init from the teacher); a count K picks every other layer. */
  student_layers?: number[] | number;
  /** An HF model folder of the same tokenizer instead (a smaller BERT, a DistilBERT). */
  student?: string;
  temperature: number;
  alpha_kd: number;
  alpha_task: number;
  alpha_cos: number;
  /** Teacher outputs kept on disk up to this many MiB (under <runs_dir>/.teacher-cache); beyond it, memory only. */
  cache_max_mib: number;
}

export const DISTILL_DEFAULTS: Omit<DistillSettings, 'teacher'> = {
  temperature: 2,
  alpha_kd: 0.5,
  alpha_task: 0.5,
  alpha_cos: 0,
  cache_max_mib: 512,
};

const KEYS = ['teacher', 'student_layers', 'student', 'temperature', 'alpha_kd', 'alpha_task', 'alpha_cos', 'cache_max_mib'];
/** Keys of a `method: {name: distill}` spec besides the distill settings themselves. */
const SPEC_EXTRA = ['name', 'student_method'];

/** Splits a `method: {name: 'distill', …}` spec into the distill block and the student's method. */
export function splitDistillSpec(spec: MethodSpec): { distill: Record<string, unknown>; studentMethod: MethodSpec | string } {
  const unknown = Object.keys(spec).filter((k) => !KEYS.includes(k) && !SPEC_EXTRA.includes(k));
  if (unknown.length) fail(`unknown setting(s) ${unknown.join(', ')} (distill takes ${[...KEYS, 'student_method'].join(', ')})`);
  const distill = Object.fromEntries(Object.entries(spec).filter(([k]) => KEYS.includes(k)));
  const sm = spec.student_method ?? 'full';
  if (typeof sm !== 'string' && (typeof sm !== 'object' || sm === null || typeof (sm as MethodSpec).name !== 'string')) {
    fail(`student_method must be a method name or a method spec, got ${JSON.stringify(sm)}`);
  }
  if ((typeof sm === 'string' ? sm : (sm as MethodSpec).name) === 'distill') fail('student_method cannot be distill');
  return { distill, studentMethod: sm as MethodSpec | string };
}

export function resolveDistill(raw: Record<string, unknown>, resolvePath: (p: string) => string): DistillSettings {
  const unknown = Object.keys(raw).filter((k) => !KEYS.includes(k) && raw[k] !== undefined);
  if (unknown.length) fail(`unknown setting(s) ${unknown.join(', ')} (its settings: ${KEYS.join(', ')})`);
  if (typeof raw.teacher !== 'string' || !raw.teacher) fail('teacher (a run folder or a fine-tuned model folder) is required');
  const s: DistillSettings = { ...DISTILL_DEFAULTS, ...(raw as Partial<DistillSettings>), teacher: resolvePath(raw.teacher as string) };
  if (s.student !== undefined && s.student !== null) {
    if (typeof s.student !== 'string') fail('student must be a model folder');
    s.student = resolvePath(s.student);
  } else delete s.student;
  if (s.student && s.student_layers !== undefined) fail('give student (a model folder) or student_layers (layers of the teacher), not both');
  const layers = s.student_layers;
  if (layers !== undefined && layers !== null) {
    const ok = typeof layers === 'number' ? Number.isInteger(layers) && layers >= 1 : Array.isArray(layers) && layers.length > 0 && layers.every((l) => Number.isInteger(l) && l >= 0);
    if (!ok) fail(`student_layers must be a count ≥ 1 or a list of teacher layer indices, got ${JSON.stringify(layers)}`);
    if (Array.isArray(layers) && new Set(layers).size !== layers.length) fail(`student_layers lists a layer twice: ${JSON.stringify(layers)}`);
  } else delete s.student_layers;
  if (!(typeof s.temperature === 'number' && s.temperature > 0 && Number.isFinite(s.temperature))) fail(`temperature must be > 0, got ${JSON.stringify(s.temperature)}`);
  for (const k of ['alpha_kd', 'alpha_task', 'alpha_cos'] as const) {
    if (!(typeof s[k] === 'number' && s[k] >= 0 && Number.isFinite(s[k]))) fail(`${k} must be ≥ 0, got ${JSON.stringify(s[k])}`);
  }
  if (s.alpha_kd + s.alpha_task + s.alpha_cos === 0) fail('alpha_kd, alpha_task and alpha_cos are all 0: the student would learn nothing');
  if (!(typeof s.cache_max_mib === 'number' && s.cache_max_mib >= 0)) fail('cache_max_mib must be ≥ 0');
  return s;
}

/** DistilBERT's choice for K of L layers: every other layer from the first ([0, 2, 4, …]), or evenly spread when K > L/2. */
export function pickLayers(count: number, teacherLayers: number): number[] {
  if (count > teacherLayers) fail(`student_layers ${count} is more than the teacher's ${teacherLayers} layers`);
  if (count * 2 <= teacherLayers) return Array.from({ length: count }, (_, i) => 2 * i);
  return Array.from({ length: count }, (_, i) => Math.round((i * (teacherLayers - 1)) / Math.max(1, count - 1)));
}

function fail(msg: string): never {
  throw new PeftStudioError('BAD_INPUT', `distill: ${msg}`);
}
