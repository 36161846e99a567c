/**
 * The method rows of `npm run bench:train`: each a method spec for our side (built through the method
 * registry, as a run builds it) and the recipe bench/torch_step.py builds the same step from in PyTorch.
 */
import { peftMethodNames, resolveMethodSpec } from '../engine/peft/registry';
import type { MethodSpec } from '../engine/peft/types';

export interface MethodCase {
  /** The row's name in `--methods` and in the tables. */
  id: string;
  /** Specs to try in order; the first whose method is registered is used (libraries spell some names differently). */
  specs: MethodSpec[];
}

export const METHOD_CASES: MethodCase[] = [
  { id: 'full', specs: [{ name: 'full' }] },
  { id: 'bitfit', specs: [{ name: 'bitfit', bias_terms: ['all'], train_head: true }] },
  { id: 'lora-qv', specs: [{ name: 'lora', r: 8, lora_alpha: 16, target_modules: ['query', 'value'] }] },
  { id: 'lora-all', specs: [{ name: 'lora', r: 8, lora_alpha: 16, target_modules: 'all-linear' }] },
  { id: 'houlsby', specs: [{ name: 'houlsby', reduction_factor: 16 }, { name: 'double_seq_bn', reduction_factor: 16 }] },
  { id: 'pfeiffer', specs: [{ name: 'pfeiffer', reduction_factor: 16 }, { name: 'seq_bn', reduction_factor: 16 }] },
  { id: 'prompt-tuning', specs: [{ name: 'prompt_tuning', num_virtual_tokens: 20 }, { name: 'prompt-tuning', num_virtual_tokens: 20 }] },
  { id: 'prefix-tuning', specs: [{ name: 'prefix_tuning', num_virtual_tokens: 20 }, { name: 'prefix-tuning', num_virtual_tokens: 20 }] },
];

export const DEFAULT_METHODS = METHOD_CASES.map((c) => c.id).join(',');

/** A row's resolved spec (every default filled in), or why it is skipped on this build. */
export function resolveCase(id: string): { spec: MethodSpec } | { skip: string } {
  const registered = peftMethodNames();
  // A registered method's own name runs with its defaults.
  const c = METHOD_CASES.find((m) => m.id === id) ?? (registered.includes(id) ? { id, specs: [{ name: id }] } : undefined);
  if (!c) return { skip: `unknown method row "${id}" (rows: ${METHOD_CASES.map((m) => m.id).join(', ')}, or a registered method name)` };
  const spec = c.specs.find((s) => registered.includes(s.name));
  if (!spec) return { skip: `skipped: no method ${c.specs.map((s) => `"${s.name}"`).join(' or ')} registered in this build (registered: ${registered.join(', ')})` };
  try {
    return { spec: resolveMethodSpec(spec) };
  } catch (e) {
    return { skip: `skipped: ${(e as Error).message}` };
  }
}

/**
 * What bench/torch_step.py builds for a resolved spec: `full`, `bitfit`, or a JSON recipe with the same
 * settings (see that file). Undefined when there is no PyTorch version of the method.
 */
export function torchRecipe(spec: MethodSpec): string | undefined {
  const n = (k: string, d: number) => (typeof spec[k] === 'number' ? (spec[k] as number) : d);
  switch (spec.name) {
    case 'full':
      return 'full';
    case 'bitfit': {
      const terms = spec.bias_terms as unknown;
      // The PyTorch side trains every bias and the classifier: only that selection has a counterpart.
      return Array.isArray(terms) && terms.length === 1 && terms[0] === 'all' && spec.train_head !== false ? 'bitfit' : undefined;
    }
    case 'lora':
      if (spec.use_rslora || spec.bias !== 'none' || (spec.layers_to_transform ?? null) !== null) return undefined;
      return JSON.stringify({ kind: 'lora', r: spec.r, alpha: spec.lora_alpha, dropout: n('lora_dropout', 0), targets: spec.target_modules });
    case 'houlsby':
    case 'double_seq_bn':
    case 'pfeiffer':
    case 'seq_bn': {
      // torch_step.py writes the two presets' structure (AdapterHub's defaults); other knobs have no counterpart there.
      const variant = spec.name === 'houlsby' || spec.name === 'double_seq_bn' ? 'houlsby' : 'pfeiffer';
      const plain = (spec.scaling ?? 1) === 1 && !spec.dropout && !spec.ln_before && !spec.ln_after && !spec.train_layer_norms && !(Array.isArray(spec.leave_out) && spec.leave_out.length);
      const places = (spec.mh_adapter ?? variant === 'houlsby') === (variant === 'houlsby') && (spec.output_adapter ?? true) === true;
      const lnBefore = (spec.original_ln_before ?? variant === 'pfeiffer') === (variant === 'pfeiffer');
      if (!plain || !places || !lnBefore) return undefined;
      const act = typeof spec.non_linearity === 'string' ? spec.non_linearity : variant === 'houlsby' ? 'swish' : 'relu';
      if (!['swish', 'silu', 'relu', 'gelu', 'tanh'].includes(act)) return undefined;
      return JSON.stringify({ kind: 'adapter', variant, reduction: n('reduction_factor', 16), act });
    }
    case 'prompt_tuning':
    case 'prompt-tuning':
      return JSON.stringify({ kind: 'prompt', tokens: n('num_virtual_tokens', 20) });
    case 'prefix_tuning':
    case 'prefix-tuning':
      return JSON.stringify({ kind: 'prefix', tokens: n('num_virtual_tokens', 20) });
    default:
      return undefined;
  }
}
