/**
 * What "PEFT: New Run" asks, without `vscode` (unit-tested): the method first (every method of the
 * engine's TF-free catalog, with its title and one-line description), then that method's settings marked
 * `ask` (each with its default or the last value used with that method, checked by the engine's own
 * settings rules), then the training numbers, whose starting values are remembered per method.
 */
import * as path from 'node:path';
import { parseSettings, settingFromFlag } from '../../engine/peft/settings';
import type { MethodInfo, MethodSpec, SettingSpec } from '../../engine/peft/types';
import { defaultLearningRate, methodInfo, methodInfos, methodLabel } from '../../protocol/method';

export interface MethodPick {
  method: string;
  label: string;
  description: string;
  /** Why this one: whether it merges into the weights, which library's files it exports. */
  detail: string;
}

/** The method quick pick: the catalog in its order, the last method used first. */
export function methodPicks(last?: string, infos: readonly MethodInfo[] = methodInfos()): MethodPick[] {
  const picks = infos.map((m) => ({
    method: m.name,
    label: m.title,
    description: m.description,
    detail: [m.merge === true ? 'merges into the model (export --merged)' : `does not merge: ${m.merge}`, m.adapterFormat ? `exports ${m.adapterFormat === 'peft' ? 'HF PEFT' : 'AdapterHub'} adapter files` : ''].filter(Boolean).join(' · '),
  }));
  const i = picks.findIndex((p) => p.method === last);
  return i > 0 ? [picks[i]!, ...picks.slice(0, i), ...picks.slice(i + 1)] : picks;
}

/** One question about a setting: a quick pick (enum, boolean, list of known values) or an input box. */
export type SettingQuestion =
  | { setting: SettingSpec; kind: 'pick'; items: Array<{ value: string; picked: boolean }> }
  | { setting: SettingSpec; kind: 'pickMany'; items: Array<{ value: string; picked: boolean }> }
  | { setting: SettingSpec; kind: 'input'; value: string };

/** The settings New Run asks about for `method`, starting from `previous` (last run of that method) or the defaults. */
export function settingQuestions(method: string, previous: Record<string, unknown> = {}): SettingQuestion[] {
  const info = methodInfo(method);
  if (!info) return [];
  return info.settings
    .filter((s) => s.ask)
    .map((s): SettingQuestion => {
      const start = previous[s.key] !== undefined ? previous[s.key] : s.default;
      if (s.type === 'enum') return { setting: s, kind: 'pick', items: s.values!.map((v) => ({ value: v, picked: v === start })) };
      if (s.type === 'boolean') return { setting: s, kind: 'pick', items: ['true', 'false'].map((v) => ({ value: v, picked: String(start) === v })) };
      if (s.type === 'list' && s.values) {
        const chosen = new Set(Array.isArray(start) ? start.map(String) : []);
        return { setting: s, kind: 'pickMany', items: s.values.map((v) => ({ value: v, picked: chosen.has(v) })) };
      }
      return { setting: s, kind: 'input', value: showSetting(start) };
    });
}

/** A value as an input box shows it: lists comma-separated, null empty. */
export function showSetting(v: unknown): string {
  if (v === null || v === undefined) return '';
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/**
 * Typed value of an answer (input text, a picked value, or picked values), checked with the engine's
 * settings rules; `error` is the message an input box shows while the text is wrong.
 */
export function settingAnswer(method: string, s: SettingSpec, answer: string | string[]): { value: unknown } | { error: string } {
  let value: unknown;
  if (Array.isArray(answer)) value = answer;
  else if (answer.trim() === '' && s.default === null) value = null;
  else value = settingFromFlag(s, answer.trim());
  const info = methodInfo(method);
  if (!info) return { error: `unknown method ${method}` };
  try {
    const spec = parseSettings(info, { name: method, [s.key]: value });
    return { value: spec[s.key] };
  } catch (e) {
    // The engine's message names the method and key; an input box has both in its title already.
    return { error: (e as Error).message.replace(/^method \S+: /, '') };
  }
}

export interface TrainingChoice {
  learningRate: number;
  epochs: number;
  batchSize: number;
  maxLength: number;
}

export interface MethodMemory extends Partial<TrainingChoice> {
  /** The asked settings' last answers. */
  settings?: Record<string, unknown>;
}

/** Starting values of the training questions: the last ones used with this method, else the defaults (learning rate per method). */
export function trainingDefaults(method: string, memory: MethodMemory | undefined, general: { epochs: number; batchSize: number; maxLength: number }): TrainingChoice {
  return {
    learningRate: memory?.learningRate ?? defaultLearningRate(method),
    epochs: memory?.epochs ?? general.epochs,
    batchSize: memory?.batchSize ?? general.batchSize,
    maxLength: memory?.maxLength ?? general.maxLength,
  };
}

export interface NewRunChoice {
  model: string;
  trainFile: string;
  evalFile?: string;
  method: MethodSpec;
  training: TrainingChoice;
}

/** The run config New Run saves as `<name>.peft.json` and starts: the method as `{ name, ...settings }`. */
export function newRunConfig(c: NewRunChoice): Record<string, unknown> {
  const data = path.basename(c.trainFile).replace(/\.[^.]+$/, '');
  return {
    run_name: `${data} · ${methodLabel(c.method, 'long')} · lr ${c.training.learningRate}`,
    model: c.model,
    train_file: c.trainFile,
    // Holding out is said explicitly: a config without either would take the split beside the training file.
    ...(c.evalFile ? { eval_file: c.evalFile } : { eval_split: 0.1 }),
    method: c.method,
    learning_rate: c.training.learningRate,
    num_train_epochs: c.training.epochs,
    per_device_train_batch_size: c.training.batchSize,
    max_length: c.training.maxLength,
  };
}


// ── "Distil a trained run" ───────────────────────────────────────────────────

/** The student's size when the user does not say: half the teacher's layers (DistilBERT's 12 → 6), at least one. */
export function defaultStudentLayers(teacherLayers: number): number {
  return Math.max(1, Math.floor(teacherLayers / 2));
}

/** The layer counts New Run offers for a student built from the teacher's layers, the default first. */
export function studentLayerPicks(teacherLayers: number): Array<{ layers: number; label: string; isDefault: boolean }> {
  const d = defaultStudentLayers(teacherLayers);
  const counts = [d, ...Array.from({ length: Math.max(0, teacherLayers - 1) }, (_, i) => i + 1).filter((n) => n !== d)];
  return counts.map((n) => ({ layers: n, label: `${n} of ${teacherLayers} layers`, isDefault: n === d }));
}

/** What the distillation asks after the student's method, with the engine's defaults. */
export const DISTILL_NUMBERS = [
  { key: 'temperature', label: 'Temperature', prompt: 'Softens both models’ outputs before they are compared (DistilBERT used 2)' },
  { key: 'alpha_kd', label: 'Weight of the teacher’s soft targets (alpha_kd)', prompt: 'KL divergence to the teacher’s softened outputs' },
  { key: 'alpha_task', label: 'Weight of the task loss (alpha_task)', prompt: 'The usual loss on the labels; 0 learns from the teacher alone' },
  { key: 'alpha_cos', label: 'Weight of the hidden-state cosine loss (alpha_cos)', prompt: 'Aligns the [CLS] hidden states with the teacher’s; 0 leaves it out' },
] as const;
export type DistillNumberKey = (typeof DISTILL_NUMBERS)[number]['key'];

export interface DistillChoice {
  /** A finished run folder or a fine-tuned model folder. */
  teacher: string;
  /** How the teacher is named in the run's name (a run's label, a folder's name). */
  teacherLabel: string;
  /** The student: this many of the teacher's layers, or a model folder of the same tokenizer. */
  student: { layers: number } | { model: string };
  /** The method the student trains with ({ name: 'full' } is DistilBERT's recipe). */
  studentMethod: MethodSpec;
  numbers: Record<DistillNumberKey, number>;
  trainFile: string;
  evalFile?: string;
  training: TrainingChoice;
}

/** Starting values of the distillation numbers: the last ones used, else the engine's defaults. */
export function distillNumberDefaults(defaults: Record<DistillNumberKey, number>, last?: Partial<Record<DistillNumberKey, number>>): Record<DistillNumberKey, number> {
  const out = { ...defaults };
  for (const k of Object.keys(out) as DistillNumberKey[]) if (typeof last?.[k] === 'number' && Number.isFinite(last[k])) out[k] = last[k]!;
  return out;
}

/** A distillation number's check: the temperature positive, the weights at least 0. */
export function distillNumberError(key: DistillNumberKey, text: string): string | undefined {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) return 'a number';
  if (key === 'temperature' ? n <= 0 : n < 0) return key === 'temperature' ? 'a positive number' : 'a number ≥ 0';
  return undefined;
}

/**
 * The run config of a distillation: a `distill` block (teacher, student layers or student folder, the
 * temperature and weights) and the student's method, as engine/train/config.ts resolves them. No `model`:
 * the student is the teacher's layers or its own folder.
 */
export function distillRunConfig(c: DistillChoice): Record<string, unknown> {
  const data = path.basename(c.trainFile).replace(/\.[^.]+$/, '');
  const student = 'layers' in c.student ? `${c.student.layers} layers` : path.basename(c.student.model);
  return {
    run_name: `${data} · distil ${c.teacherLabel} → ${student} · ${methodLabel(c.studentMethod, 'short')}`,
    train_file: c.trainFile,
    ...(c.evalFile ? { eval_file: c.evalFile } : {}),
    distill: {
      teacher: c.teacher,
      ...('layers' in c.student ? { student_layers: c.student.layers } : { student: c.student.model }),
      temperature: c.numbers.temperature,
      alpha_kd: c.numbers.alpha_kd,
      alpha_task: c.numbers.alpha_task,
      alpha_cos: c.numbers.alpha_cos,
    },
    method: c.studentMethod,
    learning_rate: c.training.learningRate,
    num_train_epochs: c.training.epochs,
    per_device_train_batch_size: c.training.batchSize,
    max_length: c.training.maxLength,
  };
}
