/**
 * The teacher: a finished run (its best checkpoint, any method — folded into the weights where the method
 * can be merged, so the teacher costs one plain forward pass) or an HF fine-tuned model folder. Its identity
 * (folder, checkpoint, weights' size and time) keys the teacher-output cache.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeftStudioError } from '../errors';
import { loadModel } from '../model/load';
import type { EncoderModel } from '../model/model';
import { resolveProblemType, type ProblemType } from '../model/config';
import { loadTrainedModel } from '../train/export';
import { EVENTS_FILE } from '../train/run-dir';

export interface Teacher {
  model: EncoderModel;
  /** The folder whose tokenizer the teacher was trained with. */
  tokenizerDir: string;
  /** What identifies these weights: changes when the checkpoint or the folder's weights change. */
  identity: string;
  /** For people: `run …/sst2-full (step 600)` or the model folder. */
  label: string;
  problem: ProblemType;
  notices: string[];
}

export function openTeacher(p: string): Teacher {
  if (!fs.existsSync(p)) throw new PeftStudioError('MISSING_FILE', `distill: teacher ${p} does not exist`, p);
  if (fs.existsSync(path.join(p, EVENTS_FILE))) {
    const t = loadTrainedModel(p); // throws "the run has no checkpoint yet" for a run without one
    const notices: string[] = [];
    if (t.method.name !== 'full' && t.method.name !== 'bitfit') {
      try {
        t.method.merge(); // one plain forward pass per example, same numbers
      } catch {
        notices.push(`the teacher's ${t.method.name} cannot be merged into its weights: it runs with the method in place`);
      }
    }
    const weights = path.join(t.checkpoint, 'trainable.safetensors');
    const st = fs.statSync(weights);
    return {
      model: t.model,
      tokenizerDir: t.info.config.model,
      identity: JSON.stringify({ run: path.resolve(p), checkpoint: t.checkpoint, size: st.size, mtime: st.mtimeMs }),
      label: `run ${p} (${path.basename(t.checkpoint)}, ${t.method.name})`,
      problem: resolveProblemType(t.model.config),
      notices,
    };
  }
  const loaded = loadModel(p, { head: 'sequence-classification' });
  if (!loaded.model.config.architecture.endsWith('ForSequenceClassification') || loaded.initialized.length) {
    loaded.model.dispose();
    throw new PeftStudioError('BAD_INPUT', `distill: teacher ${p} is not a fine-tuned classifier (${loaded.model.config.architecture}${loaded.initialized.length ? ', its head would be initialised fresh' : ''}) — train it first, or pass the run folder`, p);
  }
  const stats = loaded.files.map((f) => {
    const st = fs.statSync(f);
    return [f, st.size, st.mtimeMs];
  });
  return {
    model: loaded.model,
    tokenizerDir: p,
    identity: JSON.stringify({ model: path.resolve(p), files: stats }),
    label: `model ${p}`,
    problem: resolveProblemType(loaded.model.config),
    notices: loaded.notices,
  };
}
