/**
 * LoRA's settings, with HF PEFT's `LoraConfig` names and defaults, and which linear modules it wraps.
 * PEFT's matching: a module is a target when its name ends with `.<target>` (so `dense` also hits the
 * pooler), a string target is a full-match regex, and `layers_to_transform` keeps only those layers.
 */
import { PeftStudioError } from '../../errors';
import { globToRegExp, isHeadParam } from '../names';
import type { MethodInfo } from '../types';

export interface LoraSettings {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  /** Suffixes, globs, /regex/ — or 'all-linear'. */
  targetModules: string[] | 'all-linear';
  bias: 'none' | 'all' | 'lora_only';
  modulesToSave: string[];
  initLoraWeights: 'default' | 'gaussian';
  useRslora: boolean;
  layersToTransform: number[] | null;
}

export const LORA_INFO: MethodInfo = {
  name: 'lora',
  title: 'LoRA',
  description: 'low-rank updates B·A beside frozen weights (HF PEFT LoraConfig); merges into the weights',
  merge: true,
  adapterFormat: 'peft',
  settings: [
    { key: 'r', flag: 'lora-r', type: 'integer', default: 8, min: 1, ask: true, description: 'Rank of the update: A is [r, in], B is [out, r].' },
    { key: 'lora_alpha', flag: 'lora-alpha', type: 'number', default: 8, min: 0, exclusiveMin: true, ask: true, description: 'Scale numerator: the update is (lora_alpha / r) · B·A (or lora_alpha / √r with use_rslora).' },
    { key: 'lora_dropout', flag: 'lora-dropout', type: 'number', default: 0, min: 0, max: 1, exclusiveMax: true, description: "Dropout on the LoRA path's input while training." },
    {
      key: 'target_modules',
      flag: 'target-modules',
      type: 'list',
      words: ['all-linear'],
      default: ['query', 'value'],
      ask: true,
      description: "Modules to wrap: name suffixes as in PEFT (query, key, value, dense, …), globs or /regex/ on HF module names, or 'all-linear' (every linear layer but the classifier).",
    },
    { key: 'bias', flag: 'lora-bias', type: 'enum', values: ['none', 'all', 'lora_only'], default: 'none', description: "Biases that train too: none, all (LoRA + BitFit), or lora_only (those of wrapped modules)." },
    { key: 'modules_to_save', flag: 'modules-to-save', type: 'list', default: ['classifier'], description: 'Modules trained fully and saved with the adapter; the classifier by default, as PEFT does for sequence classification.' },
    { key: 'init_lora_weights', flag: 'init-lora-weights', type: 'enum', values: ['default', 'gaussian'], default: 'default', description: "default: A Kaiming-uniform, B zeros (PEFT's); gaussian: A ~ N(0, 1/r), B zeros." },
    { key: 'use_rslora', flag: 'use-rslora', type: 'boolean', default: false, description: 'Rank-stabilised scale lora_alpha / √r.' },
    { key: 'layers_to_transform', flag: 'layers-to-transform', type: 'list', default: null, description: 'Only these encoder layers (indices); all when null.' },
  ],
};

export function toLoraSettings(spec: Record<string, unknown>): LoraSettings {
  const layers = spec.layers_to_transform as unknown[] | null;
  if (layers !== null && (!Array.isArray(layers) || layers.some((l) => !Number.isInteger(Number(l)) || Number(l) < 0))) {
    throw new PeftStudioError('BAD_INPUT', `method lora: layers_to_transform must be a list of layer indices, got ${JSON.stringify(layers)}`);
  }
  const targets = spec.target_modules as string[] | 'all-linear';
  if (Array.isArray(targets) && targets.length === 0) throw new PeftStudioError('BAD_INPUT', 'method lora: target_modules must name at least one module');
  return {
    r: spec.r as number,
    loraAlpha: spec.lora_alpha as number,
    loraDropout: spec.lora_dropout as number,
    targetModules: Array.isArray(targets) ? targets.map(String) : targets,
    bias: spec.bias as LoraSettings['bias'],
    modulesToSave: (spec.modules_to_save as string[]).map(String),
    initLoraWeights: spec.init_lora_weights as LoraSettings['initLoraWeights'],
    useRslora: spec.use_rslora as boolean,
    layersToTransform: layers === null ? null : layers.map(Number),
  };
}

export function loraScaling(s: LoraSettings): number {
  return s.useRslora ? s.loraAlpha / Math.sqrt(s.r) : s.loraAlpha / s.r;
}

/** The wrapped modules among `modules` (HF paths of the model's linear layers, heads included). */
export function selectTargets(modules: string[], s: LoraSettings): string[] {
  const candidates = modules.filter((m) => !isHeadParam(`${m}.`));
  const matchers = s.targetModules === 'all-linear' ? [() => true] : s.targetModules.map(targetMatcher);
  let chosen = candidates.filter((m) => matchers.some((t) => t(m)));
  if (!chosen.length) {
    const names = [...new Set(candidates.map((m) => m.split('.').pop()!))];
    throw new PeftStudioError(
      'BAD_INPUT',
      `method lora: target_modules ${JSON.stringify(s.targetModules)} match no linear module of this model (its linear modules: ${names.join(', ')}; full names like ${candidates[0] ?? '—'})`,
    );
  }
  if (s.layersToTransform) {
    const keep = new Set(s.layersToTransform);
    chosen = chosen.filter((m) => {
      const layer = /\.layer\.(\d+)\./.exec(`${m}.`);
      return layer !== null && keep.has(Number(layer[1]));
    });
    if (!chosen.length) throw new PeftStudioError('BAD_INPUT', `method lora: layers_to_transform ${JSON.stringify(s.layersToTransform)} leaves no target module (the model has layers 0…${countLayers(modules) - 1})`);
  }
  return chosen;
}

function countLayers(modules: string[]): number {
  let n = 0;
  for (const m of modules) {
    const l = /\.layer\.(\d+)\./.exec(`${m}.`);
    if (l) n = Math.max(n, Number(l[1]) + 1);
  }
  return n;
}

function targetMatcher(t: string): (m: string) => boolean {
  if (t.length > 2 && t.startsWith('/') && t.lastIndexOf('/') > 0) {
    const end = t.lastIndexOf('/');
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${t.slice(1, end)})$`, t.slice(end + 1));
    } catch (e) {
      throw new PeftStudioError('BAD_INPUT', `method lora: target ${t} is not a valid regular expression: ${(e as Error).message}`);
    }
    return (m) => re.test(m);
  }
  if (/[*?]/.test(t)) {
    const re = globToRegExp(t);
    return (m) => re.test(m);
  }
  return (m) => m === t || m.endsWith(`.${t}`);
}

/** Whether a tensor belongs to one of `modulesToSave` (PEFT's ModulesToSaveWrapper matching: a name suffix). */
export function inModulesToSave(tensor: string, modulesToSave: string[]): boolean {
  const module = tensor.replace(/\.(weight|bias)$/, '');
  return modulesToSave.some((m) => module === m || module.endsWith(`.${m}`) || module.startsWith(`${m}.`) || module.includes(`.${m}.`));
}
