/**
 * Runs the engine on one HF reference case (a folder with case.json + expected.safetensors, see
 * ../shared/fixtures/README.md) and measures how far it is from HF's float64 outputs. Shared by the parity
 * test (which asserts the tolerances) and `npm run parity` (which prints the numbers).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseBackendEnv, type BackendName } from '../../engine/backend/select';
import { tf, tidy } from '../../engine/backend/tf';
import { readSafetensors } from '../../engine/io/safetensors';
import { resolveProblemType } from '../../engine/model/config';
import { loadModel } from '../../engine/model/load';
import { sequenceClassificationLoss } from '../../engine/model/model';
import { relL2 } from '../helpers/reference-encoder';

export const SHARED = path.resolve(__dirname, '../../../shared');

export function sharedPath(...parts: string[]): string {
  const p = path.join(SHARED, ...parts);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} not found: these tests need the shared data folder checked out next to the repository (../shared)`);
  }
  return p;
}

/** Every reference case folder: ../shared/fixtures/* with case.json, plus PEFT_STUDIO_PARITY_CASES (':'-separated). */
export function referenceCases(): string[] {
  const root = sharedPath('fixtures');
  const dirs = fs
    .readdirSync(root)
    .map((d) => path.join(root, d))
    .filter((d) => fs.existsSync(path.join(d, 'case.json')) && fs.existsSync(path.join(d, 'expected.safetensors')));
  const extra = (process.env.PEFT_STUDIO_PARITY_CASES ?? '').split(':').filter(Boolean);
  return [...dirs, ...extra.map((d) => path.resolve(d))];
}

/**
 * The backends the parity tests run on: cpu and wasm (always installed), or only PEFT_STUDIO_BACKEND when it
 * names one — how webgpu.test.ts runs these same tests in a child process set up for WebGPU.
 */
export function parityBackends(): BackendName[] {
  const forced = parseBackendEnv(process.env.PEFT_STUDIO_BACKEND);
  return forced && forced !== 'auto' ? [forced] : ['cpu', 'wasm'];
}

interface CaseJson {
  arch: string;
  model_class: string;
  num_labels: number;
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][] | null;
  labels: (number | number[])[];
}

export interface ParityReport {
  caseDir: string;
  logitsRelL2: number;
  lossAbs: number;
  hiddenRelL2: number[];
  attentionRelL2: number[];
  pooledRelL2?: number;
  /** Per bias: relative L2, or for biases whose exact gradient is zero, |g|max / max |g| over all biases. */
  gradRelL2: Record<string, number>;
  zeroGradAbsRatio: Record<string, number>;
  tensorLeak: number;
}

export async function runReferenceCase(caseDir: string): Promise<ParityReport> {
  const c = JSON.parse(fs.readFileSync(path.join(caseDir, 'case.json'), 'utf8')) as CaseJson;
  const expected = readSafetensors(path.join(caseDir, 'expected.safetensors')).tensors;
  const exp = (name: string) => {
    const t = expected.get(name);
    if (!t) throw new Error(`${caseDir}: expected.safetensors lacks ${name}`);
    return t.data;
  };
  const before = tf.memory().numTensors;
  const { model } = loadModel(caseDir);
  const problem = resolveProblemType(model.config, c.labels.every((l) => Number.isInteger(l)));
  const inputs = {
    inputIds: tf.tensor2d(c.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(c.attention_mask, undefined, 'int32'),
    tokenTypeIds: c.token_type_ids ? tf.tensor2d(c.token_type_ids, undefined, 'int32') : undefined,
  };
  const labels =
    problem === 'single_label_classification'
      ? tf.tensor1d(c.labels as number[], 'int32')
      : tf.tensor(c.labels as number[] | number[][], undefined, 'float32');

  const { out, loss } = tidy(() => {
    const out = model.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
    return { out, loss: sequenceClassificationLoss(out.logits!, labels, problem) };
  });
  const report: ParityReport = {
    caseDir,
    logitsRelL2: relL2(await out.logits!.data(), exp('f64.logits')),
    lossAbs: Math.abs((await loss.data())[0]! - exp('f64.loss')[0]!),
    hiddenRelL2: [],
    attentionRelL2: [],
    gradRelL2: {},
    zeroGradAbsRatio: {},
    tensorLeak: 0,
  };
  for (let i = 0; i < out.hiddenStates!.length; i++) {
    report.hiddenRelL2.push(relL2(await out.hiddenStates![i]!.data(), exp(`f64.hidden_states.${i}`)));
  }
  for (let i = 0; i < out.attentions!.length; i++) {
    if (expected.has(`f64.attentions.${i}`)) report.attentionRelL2.push(relL2(await out.attentions![i]!.data(), exp(`f64.attentions.${i}`)));
  }
  if (out.pooled && expected.has('f64.pooled')) report.pooledRelL2 = relL2(await out.pooled.data(), exp('f64.pooled'));
  tf.dispose([out.logits!, out.pooled!, loss, ...out.hiddenStates!, ...out.attentions!]);
  tf.dispose(out.lastHiddenState);

  // Gradient of the loss w.r.t. every bias, weights frozen: biases become variables, nothing else does.
  const biasNames = model.params.names().filter((n) => n.endsWith('.bias'));
  const vars = biasNames.map((n) => {
    const v = tf.variable(model.params.get(n), true, `${n}#${Math.random()}`);
    model.params.set(n, v);
    return v;
  });
  const { grads, value } = tf.tidy(() =>
    tf.variableGrads(() => sequenceClassificationLoss(model.forward(inputs).logits!, labels, problem), vars),
  );
  const gradData = new Map<string, Float32Array>();
  for (let i = 0; i < biasNames.length; i++) gradData.set(biasNames[i]!, (await grads[vars[i]!.name]!.data()) as Float32Array);
  const zeroInExact = new Set(biasNames.filter((n) => /attention\.self\.key\.bias$|attention\.k_lin\.bias$/.test(n)));
  let maxAbs = 0;
  for (const n of biasNames) for (const g of exp(`f64.grad.${n}`)) maxAbs = Math.max(maxAbs, Math.abs(g));
  for (const n of biasNames) {
    const ours = gradData.get(n)!;
    if (zeroInExact.has(n)) {
      let m = 0;
      for (const g of ours) m = Math.max(m, Math.abs(g));
      report.zeroGradAbsRatio[n] = m / maxAbs;
    } else {
      report.gradRelL2[n] = relL2(ours, exp(`f64.grad.${n}`));
    }
  }
  tf.dispose([value, ...Object.values(grads), inputs.inputIds, inputs.attentionMask, labels]);
  if (inputs.tokenTypeIds) inputs.tokenTypeIds.dispose();
  model.dispose();
  report.tensorLeak = tf.memory().numTensors - before;
  return report;
}
