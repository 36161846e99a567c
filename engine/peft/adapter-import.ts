/**
 * `--adapter DIR`: an adapter saved by HF PEFT, AdapterHub or our own `export --adapter`, read onto its base
 * model. The adapter's config picks the method and its settings; its tensors replace the method's fresh
 * ones after every name and shape has been checked against the model (an adapter for another base fails
 * here, naming the tensor). Our exports also carry `trainable_init.safetensors` — every trainable tensor
 * under our names (P-tuning's encoder, prefix projections) — so continuing from them is exact.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { readSafetensors } from '../io/safetensors';
import { ADAPTER_CONFIG, readAdapterConfig, renameTensors, TRAINABLE_INIT } from './adapter-files';
import { isHeadParam } from './base';
import { methodForAdapterConfig } from './registry';
import type { HostTensors, MethodSpec, PeftMethod, PeftMethodFactory } from './types';

/**
 * HF PEFT's in-memory parameter name → ours: `base_model.model.` (or `base_model.`) goes, and so do the
 * adapter name (`.default.`) and the modules_to_save wrapper, whose copy is the module itself.
 */
export function fromPeftName(key: string): string {
  return key.replace(/^base_model\.(model\.)?/, '').replace(/\.modules_to_save\.default\./, '.').replace(/\.default\./, '.');
}

export interface ReadAdapter {
  dir: string;
  factory: PeftMethodFactory<unknown>;
  spec: MethodSpec;
  config: Record<string, unknown>;
}

/** The method and settings an adapter folder was saved with. */
export function readAdapter(dir: string): ReadAdapter {
  const config = readAdapterConfig(dir);
  const file = path.join(dir, ADAPTER_CONFIG);
  const factory = methodForAdapterConfig(config, file);
  const spec = factory.adapter!.specFrom(config, file);
  return { dir, factory, spec, config };
}

/**
 * Loads an adapter folder's tensors into an applied method of the same kind. `read`: the folder as a caller
 * already read it (its config and the library file's tensors), so nothing is read twice.
 */
export function loadAdapterInto(method: PeftMethod, dir: string, read?: { adapter: ReadAdapter; tensors: HostTensors }): { notices: string[]; tensors: HostTensors } {
  const a = read?.adapter ?? readAdapter(dir);
  if (a.factory.info.name !== method.name) {
    throw new PeftStudioError('BAD_INPUT', `${dir}: a ${a.factory.info.title} adapter cannot be loaded into a ${method.name} run (leave the method out: the adapter sets it)`, dir);
  }
  const notices: string[] = [];
  const exact = path.join(dir, TRAINABLE_INIT);
  let tensors: HostTensors;
  if (fs.existsSync(exact)) {
    tensors = renameTensors(readSafetensors(exact).tensors, a.factory.adapter!.fromLibraryName ?? fromPeftName);
  } else {
    tensors = read?.tensors ?? a.factory.adapter!.readTensors(dir, a.config);
  }
  const trainable = method.trainable();
  const missingHead = [...trainable.keys()].filter((n) => isHeadParam(n) && !tensors.has(n));
  // Prompt-family files hold only the encoder's output; the method says how it continues from it.
  if (method.loadAdapterTensors && !fs.existsSync(exact)) notices.push(...method.loadAdapterTensors(tensors, dir));
  else method.loadTensors(tensors, dir, { partial: (n) => isHeadParam(n) });
  if (missingHead.length) notices.push(`${dir}: the adapter has no task head (${missingHead.join(', ')}); it starts from the run's seeded head`);
  notices.push(`loaded the adapter ${dir} (${a.factory.info.title})`);
  return { notices, tensors };
}
