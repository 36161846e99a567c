/**
 * A base model folder plus a saved adapter (`--adapter DIR`: HF PEFT, AdapterHub, or our `export --adapter`),
 * opened as one model to predict or evaluate with. The head's size comes from the adapter's saved head
 * (PEFT saves the classifier as modules_to_save), its label names from the adapter folder or the base
 * config; every tensor's name and shape is checked against the base before anything is used.
 */
import { loadModel, type LoadedModel, type LoadModelOptions } from '../model/load';
import { loadAdapterInto, readAdapter } from '../peft/adapter-import';
import { createPeftMethod } from '../peft/registry';
import type { PeftMethod } from '../peft/types';

export interface AdapterModel extends LoadedModel {
  method: PeftMethod;
  adapterNotices: string[];
}

const HEAD_OUT = ['classifier.weight', 'classifier.out_proj.weight'];

export function loadModelWithAdapter(baseDir: string, adapterDir: string, opts: LoadModelOptions = {}): AdapterModel {
  const a = readAdapter(adapterDir);
  const tensors = a.factory.adapter!.readTensors(adapterDir, a.config);
  const headOut = HEAD_OUT.map((n) => tensors.get(n)).find((t) => t !== undefined);
  const id2label = a.factory.adapter!.labelsOf?.(adapterDir, a.config);
  const numLabels = id2label ? Object.keys(id2label).length : headOut?.shape[0];
  const loaded = loadModel(baseDir, {
    ...opts,
    head: 'sequence-classification',
    ...(id2label ? { id2label } : numLabels !== undefined ? { numLabels } : {}),
  });
  try {
    const method = createPeftMethod(a.spec);
    const notices: string[] = [];
    method.apply(loaded.model, { seed: opts.seed ?? 42, notices, training: false });
    notices.push(...loadAdapterInto(method, adapterDir, { adapter: a, tensors }).notices);
    return { ...loaded, method, adapterNotices: notices };
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
}
