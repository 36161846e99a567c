/**
 * The three bottleneck-adapter presets as methods (`houlsby`, `pfeiffer`, `parallel-adapter`; AdapterHub's
 * `double_seq_bn`, `seq_bn`, `par_bn` are aliases) and the reader of AdapterHub adapter folders: our export
 * (adapter_model.safetensors + head.safetensors) or the library's own `save_adapter` output
 * (pytorch_adapter.bin + pytorch_model_head.bin, read by the strict torch reader, never executed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../../errors';
import { readAdapterWeights } from '../adapter-files';
import { parseSettings } from '../settings';
import type { AdapterReader, HostTensors, MethodInfo, MethodSpec, PeftMethodFactory } from '../types';
import { HOULSBY_INFO, NON_LINEARITIES, PARALLEL_ADAPTER_INFO, PFEIFFER_INFO, toBottleneckSettings, type BottleneckSettings, type Preset } from './config';
import { ADAPTERHUB_FILES, BottleneckAdapters } from './method';

export * from './config';
export { ADAPTER_MEASURE, ADAPTERHUB_FILES, adapterModule, BottleneckAdapters, bnConfigOf, summarizeBottleneck } from './method';

type Parsed = { settings: BottleneckSettings; spec: MethodSpec };

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Whether a parsed adapter_config.json is an AdapterHub bottleneck adapter. */
export function isAdapterHubBottleneck(c: Record<string, unknown>): boolean {
  const cfg = c.config;
  if (!isObj(cfg) || c.peft_type !== undefined) return false;
  if (cfg.architecture !== undefined && cfg.architecture !== null) return cfg.architecture === 'bottleneck';
  return 'reduction_factor' in cfg && ('mh_adapter' in cfg || 'output_adapter' in cfg);
}

/** The preset an AdapterHub bottleneck config is closest to: parallel, else Pfeiffer (LN before), else Houlsby. */
export function presetOf(cfg: Record<string, unknown>): Preset {
  if (cfg.is_parallel === true) return 'parallel-adapter';
  return cfg.original_ln_before === true ? 'pfeiffer' : 'houlsby';
}

/** Our settings from AdapterHub's BnConfig; what we cannot run is refused here, naming the field. */
function specFrom(preset: Preset, c: Record<string, unknown>, file: string): MethodSpec {
  const cfg = c.config as Record<string, unknown>;
  const unsupported = (what: string): never => {
    throw new PeftStudioError('UNSUPPORTED', `${file}: ${what} — not supported by this version's bottleneck adapters`, file);
  };
  for (const key of ['use_gating', 'phm_layer'] as const) {
    if (cfg[key] === true) unsupported(`config.${key} is true${key === 'phm_layer' ? ' (Compacter)' : ''}`);
  }
  if (cfg.inv_adapter !== undefined && cfg.inv_adapter !== null) unsupported(`config.inv_adapter ${JSON.stringify(cfg.inv_adapter)} (invertible adapters)`);
  if (typeof cfg.stochastic_depth === 'number' && cfg.stochastic_depth > 0) unsupported(`config.stochastic_depth ${cfg.stochastic_depth}`);
  if (cfg.scaling !== undefined && typeof cfg.scaling !== 'number') unsupported(`config.scaling ${JSON.stringify(cfg.scaling)} (a learned scaling)`);
  if (isObj(cfg.reduction_factor)) unsupported('config.reduction_factor is a per-layer mapping');
  if (cfg.residual_before_ln !== undefined && typeof cfg.residual_before_ln !== 'boolean') unsupported(`config.residual_before_ln ${JSON.stringify(cfg.residual_before_ln)}`);
  const rf = cfg.reduction_factor;
  if (typeof rf !== 'number' || !(rf > 0)) throw new PeftStudioError('BAD_CONFIG', `${file}: config.reduction_factor must be a number > 0, got ${JSON.stringify(rf)}`, file);
  const act = typeof cfg.non_linearity === 'string' ? cfg.non_linearity.toLowerCase() : cfg.non_linearity;
  if (!(NON_LINEARITIES as readonly unknown[]).includes(act)) {
    throw new PeftStudioError('UNSUPPORTED', `${file}: config.non_linearity ${JSON.stringify(cfg.non_linearity)} is not one this version runs (${NON_LINEARITIES.join(', ')})`, file);
  }
  const hidden = c.hidden_size;
  if (typeof hidden === 'number' && Math.floor(hidden / rf) < 1) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: reduction_factor ${rf} leaves a bottleneck of ${Math.floor(hidden / rf)} units for hidden_size ${hidden} (must be ≥ 1)`, file);
  }
  const name = typeof c.name === 'string' && c.name ? c.name : undefined;
  const spec: MethodSpec = {
    name: preset,
    reduction_factor: rf,
    non_linearity: act as string,
    mh_adapter: cfg.mh_adapter ?? false,
    output_adapter: cfg.output_adapter ?? true,
    original_ln_before: cfg.original_ln_before ?? false,
    original_ln_after: cfg.original_ln_after ?? true,
    residual_before_ln: cfg.residual_before_ln ?? true,
    ln_before: cfg.ln_before ?? false,
    ln_after: cfg.ln_after ?? false,
    adapter_residual_before_ln: cfg.adapter_residual_before_ln ?? false,
    init_weights: cfg.init_weights ?? 'bert',
    scaling: cfg.scaling ?? 1,
    dropout: typeof cfg.dropout === 'number' ? cfg.dropout : 0,
    leave_out: Array.isArray(cfg.leave_out) ? cfg.leave_out : [],
    ...(name ? { adapter_name: name } : {}),
    ...(typeof hidden === 'number' ? { hidden_size: hidden } : {}),
    // Our export records trained LayerNorms beside AdapterHub's fields (the library ignores the key).
    ...(c.train_layer_norms === true ? { train_layer_norms: true } : {}),
  };
  return spec;
}

/** The saved tensors (adapter + head) under our names, which are the library's keys. */
function readTensors(dir: string, c: Record<string, unknown>): HostTensors {
  const name = typeof c.name === 'string' ? c.name : undefined;
  const { file, tensors } = readAdapterWeights(dir, [ADAPTERHUB_FILES.weights, ADAPTERHUB_FILES.libraryWeights]);
  const lnBefore = isObj(c.config) && c.config.ln_before === true;
  const out: HostTensors = new Map();
  for (const [key, t] of tensors) {
    // With ln_before, adapter_down.0 is the input LayerNorm again under its Sequential name (see exportAdapter).
    if (lnBefore && /\.adapter_down\.0\.(weight|bias)$/.test(key)) continue;
    const m = /\.adapters\.([^.]+)\./.exec(key);
    const layerNorm = /(?:LayerNorm|layer_norm)\.(?:weight|bias)$/.test(key) && !m;
    if (!layerNorm && (!m || (name !== undefined && m[1] !== name))) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `${file}: key ${key} is not a tensor of the bottleneck adapter "${name ?? '?'}" (expected ….adapters.${name ?? '<name>'}.adapter_down.0.weight and the like)`, file);
    }
    out.set(key, { shape: t.shape, data: t.data as Float32Array });
  }
  const headFile = [ADAPTERHUB_FILES.head, ADAPTERHUB_FILES.libraryHead].find((f) => fs.existsSync(path.join(dir, f)));
  if (headFile) {
    const head = readAdapterWeights(dir, [headFile]);
    for (const [key, t] of head.tensors) {
      if (key.startsWith('heads.')) {
        throw new PeftStudioError('UNSUPPORTED', `${head.file}: an AdapterHub flex head (${key}); only the HF model's own classifier head (head_config "config": null) is supported`, head.file);
      }
      out.set(key, { shape: t.shape, data: t.data as Float32Array });
    }
  }
  return out;
}

function labelsOf(dir: string): Record<number, string> | undefined {
  const file = path.join(dir, ADAPTERHUB_FILES.headConfig);
  if (!fs.existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PeftStudioError('BAD_CONFIG', `${file}: not valid JSON (${(e as Error).message})`, file);
  }
  if (!isObj(raw)) return undefined;
  if (raw.config !== null && raw.config !== undefined) throw new PeftStudioError('UNSUPPORTED', `${file}: an AdapterHub flex head (config ${JSON.stringify(raw.config).slice(0, 80)}); only the HF model's own classifier head is supported`, file);
  if (!isObj(raw.label2id)) return undefined;
  const out: Record<number, string> = {};
  for (const [label, id] of Object.entries(raw.label2id)) if (typeof id === 'number') out[id] = label;
  return Object.keys(out).length ? out : undefined;
}

function reader(preset: Preset): AdapterReader {
  return {
    detect: (c) => isAdapterHubBottleneck(c) && presetOf(c.config as Record<string, unknown>) === preset,
    specFrom: (c, file) => specFrom(preset, c, file),
    readTensors,
    baseModelOf: (c) => (typeof c.model_name === 'string' ? c.model_name : undefined),
    fromLibraryName: (key) => key,
    labelsOf: (dir) => labelsOf(dir),
  };
}

function factory(info: MethodInfo, preset: Preset): PeftMethodFactory<Parsed> {
  return {
    info,
    parseSpec(raw) {
      const spec = parseSettings(info, raw);
      const settings = toBottleneckSettings(preset, spec);
      return { settings, spec: { ...spec, leave_out: settings.leaveOut } };
    },
    create: ({ settings, spec }) => new BottleneckAdapters(settings, spec),
    adapter: reader(preset),
  };
}

export const houlsby = factory(HOULSBY_INFO, 'houlsby');
export const pfeiffer = factory(PFEIFFER_INFO, 'pfeiffer');
export const parallelAdapter = factory(PARALLEL_ADAPTER_INFO, 'parallel-adapter');
