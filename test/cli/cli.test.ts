/**
 * The real CLI (`bin/peft-studio.js`, a child process) on the shared HF fixture and on generated model
 * folders. Every number it prints is checked against one computed here independently: parameter counts
 * from the safetensors file itself, BitFit counts from the tensor names, logits from the library run
 * in-process on the same tokenized input. Exit codes and the stdout/stderr split are part of the contract.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { openModel, type ModelHandle } from '../../engine/api/model-handle';
import { readSafetensors } from '../../engine/io/safetensors';
import { makeModelDir, removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { sharedPath } from '../parity/reference';
import { REPO_ROOT as ROOT, runCli, type CliRun } from '../helpers/cli';

const FIXTURE = sharedPath('fixtures', 'hf-bert-tiny');

type Run = CliRun;

const runs = new Map<string, Promise<Run>>();

/**
 * Runs the CLI as a user would, without an inherited PEFT_STUDIO_BACKEND (auto selection). Runs are
 * deterministic, so tests asking for the same command line share one process (each costs ~1 s of startup).
 */
function cli(...args: string[]): Promise<Run> {
  const key = JSON.stringify(args);
  let run = runs.get(key);
  if (!run) {
    run = runCli(args);
    runs.set(key, run);
  }
  return run;
}

/** stdout of a --json run must be exactly one line holding one JSON object. */
function onlyJson(r: Run): any {
  assert.equal(r.code, 0, `exit ${r.code}; stderr: ${r.stderr}`);
  assert.ok(r.stdout.endsWith('\n'), 'one line, newline-terminated');
  const lines = r.stdout.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, `stdout must hold only the JSON line, got:\n${r.stdout}`);
  const obj = JSON.parse(lines[0]!);
  assert.equal(typeof obj, 'object');
  assert.ok(obj !== null && !Array.isArray(obj));
  return obj;
}

const resolvable = (pkg: string): boolean => {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
};
const TFJS_NODE = resolvable('@tensorflow/tfjs-node');
const NATIVE = TFJS_NODE || resolvable('@tensorflow/tfjs-node-gpu');

// ---- independent expectations from the weights file ---------------------------------------------------

const isHead = (n: string) => /^(pre_)?classifier\./.test(n);
const isQueryOrIntermediateBias = (n: string) => /\.(attention\.self\.query|attention\.q_lin|intermediate\.dense|ffn\.lin1)\.bias$/.test(n);

interface Expected {
  total: number;
  allBiases: number;
  allBiasesHead: number;
  sparseHead: number;
  /** Every `*.bias` tensor, the head's included. */
  biasTensors: number;
  biasParams: number;
}

/** Counts from tensor names and shapes: buffers (position_ids) are not parameters. */
function expectedCounts(tensors: Iterable<[string, { shape: number[] }]>): Expected {
  const e: Expected = { total: 0, allBiases: 0, allBiasesHead: 0, sparseHead: 0, biasTensors: 0, biasParams: 0 };
  for (const [name, t] of tensors) {
    if (/position_ids$/.test(name)) continue;
    const size = t.shape.reduce((a, b) => a * b, 1);
    e.total += size;
    const bias = name.endsWith('.bias');
    if (bias) {
      e.biasTensors += 1;
      e.biasParams += size;
    }
    if (bias && !isHead(name)) e.allBiases += size;
    if ((bias && !isHead(name)) || isHead(name)) e.allBiasesHead += size;
    if (isQueryOrIntermediateBias(name) || isHead(name)) e.sparseHead += size;
  }
  return e;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** The `trainable params: … || all params: … || trainable%: …` line right after the given label line. */
function bitfitLine(stdout: string, label: RegExp): { trainable: number; total: number; percent: string } {
  const lines = stdout.split('\n');
  const i = lines.findIndex((l) => label.test(l));
  assert.ok(i >= 0, `no line matching ${label} in:\n${stdout}`);
  const m = /^\s*trainable params: ([\d,]+) \|\| all params: ([\d,]+) \|\| trainable%: (\d+\.\d{4})$/.exec(lines[i + 1] ?? '');
  assert.ok(m, `not PEFT's print_trainable_parameters format: ${JSON.stringify(lines[i + 1])}`);
  return { trainable: Number(m[1]!.replace(/,/g, '')), total: Number(m[2]!.replace(/,/g, '')), percent: m[3]! };
}

function assertBitfitLines(stdout: string, e: Expected): void {
  const cases: Array<[RegExp, number]> = [
    [/^BitFit, all biases:$/, e.allBiases],
    [/^BitFit, all biases \+ classifier head:$/, e.allBiasesHead],
    [/^BitFit, query \+ intermediate.*\+ head:$/, e.sparseHead],
  ];
  for (const [label, trainable] of cases) {
    const got = bitfitLine(stdout, label);
    assert.equal(got.trainable, trainable, `${label}: trainable`);
    assert.equal(got.total, e.total, `${label}: all params`);
    assert.equal(got.percent, ((100 * trainable) / e.total).toFixed(4), `${label}: trainable%`);
    // The thousands separators are part of PEFT's format.
    assert.ok(stdout.includes(`trainable params: ${fmt(trainable)} || all params: ${fmt(e.total)}`));
  }
}

// ---- in-process reference logits -----------------------------------------------------------------------

const handles = new Map<string, Promise<ModelHandle>>();

/** Logits from the library on the same input: tokenizer.encode + model.forward, on the backend auto picks. */
async function libraryLogits(dir: string, text: string, pair?: string): Promise<number[]> {
  if (!handles.has(dir)) handles.set(dir, openModel(dir, { backend: 'auto' }));
  const h = await handles.get(dir)!;
  const model = h.model;
  const enc = h.tokenizer.encode(text, pair, { truncation: true, maxLength: h.tokenizer.modelMaxLength });
  const logits = tf.tidy(() =>
    model.forward({
      inputIds: tf.tensor2d([enc.inputIds], undefined, 'int32'),
      attentionMask: tf.tensor2d([enc.attentionMask], undefined, 'int32'),
      tokenTypeIds: tf.tensor2d([enc.tokenTypeIds], undefined, 'int32'),
    }).logits!,
  );
  const out = Array.from(await logits.data());
  logits.dispose();
  return out;
}

function assertClose(a: number[], b: number[], tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol, `${what}[${i}]: ${v} vs ${b[i]} (tol ${tol})`));
}

function softmax64(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Checks a predict --json object: shape, probabilities, label, and logits against the library. */
async function assertPrediction(p: any, dir: string, numLabels: number, id2label: (i: number) => string, text: string, pair?: string): Promise<void> {
  assert.ok(Array.isArray(p.logits) && p.logits.length === numLabels, `logits: ${JSON.stringify(p.logits)}`);
  assert.ok(Array.isArray(p.probabilities) && p.probabilities.length === numLabels);
  const sum = p.probabilities.reduce((a: number, b: number) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-9, `probabilities sum to ${sum}`);
  assertClose(p.probabilities, softmax64(p.logits), 1e-12, 'probabilities = softmax(logits)');
  const top = p.probabilities.indexOf(Math.max(...p.probabilities));
  assert.equal(p.label, id2label(top));
  assertClose(p.logits, await libraryLogits(dir, text, pair), 1e-5, 'CLI logits vs library');
}

// ---- fixtures --------------------------------------------------------------------------------------------

let fixtureExpected: Expected;
let fixtureConfig: { numLabels: number; layers: number; arch: string; maxPositions: number };
let distil: GeneratedModel;
let roberta: GeneratedModel;
let mlm: GeneratedModel;
let shortBert: GeneratedModel;

before(() => {
  fixtureExpected = expectedCounts(readSafetensors(path.join(FIXTURE, 'model.safetensors')).tensors);
  const cfg = require(path.join(FIXTURE, 'config.json'));
  fixtureConfig = {
    numLabels: cfg.id2label ? Object.keys(cfg.id2label).length : (cfg.num_labels ?? 2),
    layers: cfg.num_hidden_layers,
    arch: cfg.architectures[0],
    maxPositions: cfg.max_position_embeddings,
  };
  distil = makeModelDir({ family: 'distilbert', numLabels: 3, seed: 11 });
  roberta = makeModelDir({ family: 'roberta', layers: 3, seed: 12 });
  shortBert = makeModelDir({ family: 'bert', maxPositions: 24, seed: 13 });
  const H = 32;
  const V = 120;
  mlm = makeModelDir({
    family: 'bert',
    arch: 'BertForMaskedLM',
    seed: 14,
    extra: {
      'cls.predictions.bias': { shape: [V] },
      'cls.predictions.transform.dense.weight': { shape: [H, H] },
      'cls.predictions.transform.dense.bias': { shape: [H] },
      'cls.predictions.transform.LayerNorm.weight': { shape: [H] },
      'cls.predictions.transform.LayerNorm.bias': { shape: [H] },
    },
  });
});

after(async () => {
  for (const h of await Promise.all(handles.values())) h.model.dispose();
  removeModelDirs();
});

// Each test spawns its own process; they are independent, so run them side by side.
describe('peft-studio inspect', { concurrency: true }, () => {
  it('prints architecture, layers, parameter count and the BitFit lines (hf-bert-tiny)', async () => {
    const r = await cli('inspect', FIXTURE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^architecture\\s+${fixtureConfig.arch}\\b`, 'm'));
    assert.match(r.stdout, new RegExp(`^layers\\s+${fixtureConfig.layers} ×`, 'm'));
    assert.match(r.stdout, new RegExp(`^labels\\s+${fixtureConfig.numLabels}:`, 'm'));
    assert.match(r.stdout, new RegExp(`^parameters\\s+${fmt(fixtureExpected.total)}$`, 'm'));
    assertBitfitLines(r.stdout, fixtureExpected);
    // One short backend line: which backend ran, and where to read why faster ones were skipped.
    const line = r.stdout.split('\n').find((l) => l.startsWith('backend: '))!;
    assert.ok(line && line.length <= 120, `one short line, got: ${line}`);
    if (!NATIVE) assert.match(line, /^backend: wasm \(.*\d faster ones? skipped: `peft-studio inspect --backends` says why\)$/);
    assert.doesNotMatch(line, /not installed|no adapter/);
  });

  it('--backends: every backend tried, with the reason each faster one was skipped', async () => {
    const r = await cli('inspect', '--backends');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^backend: \S+/);
    if (!NATIVE) {
      assert.match(r.stdout, /^ {2}tensorflow-gpu +skipped: not installed/m);
      assert.match(r.stdout, /^ {2}wasm +active/m);
    }
  });

  it('--json has the same numbers, and stdout holds only the JSON', async () => {
    const s = onlyJson(await cli('inspect', FIXTURE, '--json'));
    assert.equal(s.architecture, fixtureConfig.arch);
    assert.equal(s.layers, fixtureConfig.layers);
    assert.equal(s.numLabels, fixtureConfig.numLabels);
    assert.equal(s.parameters, fixtureExpected.total);
    assert.equal(s.biases.parameters, fixtureExpected.biasParams);
    assert.equal(s.biases.count, fixtureExpected.biasTensors);
    const byLabel = (re: RegExp) => s.bitfit.find((b: any) => re.test(b.label));
    assert.equal(byLabel(/all biases$/).trainable, fixtureExpected.allBiases);
    assert.equal(byLabel(/classifier head/).trainable, fixtureExpected.allBiasesHead);
    assert.equal(byLabel(/query \+ intermediate/).trainable, fixtureExpected.sparseHead);
    for (const b of s.bitfit) {
      assert.equal(b.total, fixtureExpected.total);
      assert.ok(Math.abs(b.percent - (100 * b.trainable) / fixtureExpected.total) < 1e-9);
    }
    if (!NATIVE) assert.equal(s.backend.active, 'wasm');
    assert.equal(s.tokenizer.kind, 'wordpiece');
  });

  it('DistilBERT (3 labels): counts include pre_classifier in the head, q_lin/lin1 in the sparse subset', async () => {
    const e = expectedCounts(distil.tensors);
    const r = await cli('inspect', distil.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^architecture\s+DistilBertForSequenceClassification \(distilbert\)/m);
    assert.match(r.stdout, /^layers\s+2 × hidden 32, 4 heads, intermediate 128$/m);
    assert.match(r.stdout, /^labels\s+3: LABEL_0, LABEL_1, LABEL_2$/m);
    assert.match(r.stdout, new RegExp(`^parameters\\s+${fmt(e.total)}$`, 'm'));
    assertBitfitLines(r.stdout, e);
  });

  it('RoBERTa (byte-level BPE, classifier.dense + out_proj head)', async () => {
    const e = expectedCounts(roberta.tensors);
    const r = await cli('inspect', roberta.dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^architecture\s+RobertaForSequenceClassification \(roberta\)/m);
    assert.match(r.stdout, /^layers\s+3 ×/m);
    assert.match(r.stdout, /\(bpe tokenizer\)/);
    assert.match(r.stdout, new RegExp(`^parameters\\s+${fmt(e.total)}$`, 'm'));
    assertBitfitLines(r.stdout, e);
  });

  it('a pretraining checkpoint: notices on stderr, the counts include the fresh pooler and classifier', async () => {
    const r = await cli('inspect', mlm.dir, '--json');
    const s = onlyJson(r);
    assert.match(r.stderr, /^note: .*BertForMaskedLM/m);
    assert.match(r.stderr, /^note: .*initialised fresh.*bert\.pooler\.dense.*classifier/m);
    assert.match(r.stderr, /^note: .*cls\.predictions/m);
    const encoder = expectedCounts([...mlm.tensors].filter(([n]) => !n.startsWith('cls.'))).total;
    const H = 32;
    assert.equal(s.parameters, encoder + H * H + H + 2 * H + 2, 'encoder + fresh pooler + fresh 2-label classifier');
  });
});

describe('peft-studio predict', { concurrency: true }, () => {
  const TEXT = 'the movie is good and very great';
  const PAIR = 'it is not bad';
  const fixtureLabel = (i: number) => `LABEL_${i}`;

  it('--json: one object with label, logits and probabilities; logits equal the library on hf-bert-tiny', async () => {
    const r = await cli('predict', FIXTURE, '--text', TEXT, '--json');
    const p = onlyJson(r);
    assert.equal(p.truncated, false);
    await assertPrediction(p, FIXTURE, fixtureConfig.numLabels, fixtureLabel, TEXT);
  });

  it('--text-pair is used: a different result, equal to the library on the pair', async () => {
    const [single, paired] = await Promise.all([
      cli('predict', FIXTURE, '--text', TEXT, '--json'),
      cli('predict', FIXTURE, '--text', TEXT, '--text-pair', PAIR, '--json'),
    ]);
    const a = onlyJson(single);
    const b = onlyJson(paired);
    assert.ok(a.logits.some((v: number, i: number) => Math.abs(v - b.logits[i]) > 1e-4), 'the pair must change the logits');
    await assertPrediction(b, FIXTURE, fixtureConfig.numLabels, fixtureLabel, TEXT, PAIR);
  });

  it('generated DistilBERT and RoBERTa models predict what the library computes', async () => {
    const [d, rb] = await Promise.all([
      cli('predict', distil.dir, '--text', TEXT, '--text-pair', PAIR, '--json'),
      cli('predict', roberta.dir, '--text', 'the movie is good', '--json'),
    ]);
    await assertPrediction(onlyJson(d), distil.dir, 3, (i) => `LABEL_${i}`, TEXT, PAIR);
    await assertPrediction(onlyJson(rb), roberta.dir, 2, (i) => `LABEL_${i}`, 'the movie is good');
  });

  it('plain output: the label and one probability line per class, matching --json', async () => {
    const [plain, json] = await Promise.all([cli('predict', distil.dir, '--text', TEXT), cli('predict', distil.dir, '--text', TEXT, '--json')]);
    assert.equal(plain.code, 0, plain.stderr);
    const p = onlyJson(json);
    const lines = plain.stdout.trimEnd().split('\n');
    const top = Math.max(...p.probabilities);
    assert.match(lines[0]!, new RegExp(`^${p.label}\\s+\\(p = ${top.toFixed(4)}\\)$`));
    assert.equal(lines.length, 1 + 3);
    p.probabilities.forEach((q: number, i: number) => assert.match(lines[1 + i]!, new RegExp(`^\\s+LABEL_${i}\\s+${q.toFixed(6)}$`)));
  });

  it('a text longer than the model takes: exit 0, truncated, a warning on stderr only', async () => {
    const long = Array.from({ length: 40 }, () => 'the movie is good').join(' '); // 160 words ≫ 24 positions
    const r = await cli('predict', shortBert.dir, '--text', long, '--json');
    const p = onlyJson(r);
    assert.equal(p.truncated, true);
    assert.match(r.stderr, /^warning: .*24 tokens.*truncated/m);
    await assertPrediction(p, shortBert.dir, 2, (i) => `LABEL_${i}`, long);
    // A short text is not truncated and warns about nothing.
    const ok = await cli('predict', shortBert.dir, '--text', 'the movie', '--json');
    assert.equal(onlyJson(ok).truncated, false);
    assert.doesNotMatch(ok.stderr, /truncat/);
  });

  it('a pretraining checkpoint predicts with notices on stderr and only the JSON on stdout', async () => {
    const r = await cli('predict', mlm.dir, '--text', TEXT, '--json');
    const p = onlyJson(r);
    assert.match(r.stderr, /^note: .*initialised fresh/m);
    assert.equal(p.logits.length, 2);
  });

  it('--backend cpu runs on cpu and agrees with the default backend', async () => {
    const [cpu, auto] = await Promise.all([
      cli('predict', FIXTURE, '--text', TEXT, '--json', '--backend', 'cpu'),
      cli('predict', FIXTURE, '--text', TEXT, '--json'),
    ]);
    const a = onlyJson(cpu);
    const b = onlyJson(auto);
    assertClose(a.logits, b.logits, 1e-5, 'cpu vs auto');
    const i = await cli('inspect', FIXTURE, '--json', '--backend', 'cpu');
    const s = onlyJson(i);
    assert.equal(s.backend.active, 'cpu');
    assert.equal(s.backend.forced, true);
  });

  it('--backend tensorflow without @tensorflow/tfjs-node: exit 1, "not installed", no fallback', { skip: TFJS_NODE ? '@tensorflow/tfjs-node is installed here' : false }, async () => {
    const r = await cli('predict', FIXTURE, '--text', TEXT, '--json', '--backend', 'tensorflow');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error: .*"tensorflow".*not installed/m);
    assert.doesNotMatch(r.stderr, /internal error|    at /);
  });
});

describe('peft-studio errors and usage', { concurrency: true }, () => {
  it('empty text: exit 1 with a clear message, nothing on stdout', async () => {
    for (const text of ['', '   ']) {
      const r = await cli('predict', FIXTURE, '--text', text, '--json');
      assert.equal(r.code, 1, `text ${JSON.stringify(text)}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^error: .*empty/m);
      assert.doesNotMatch(r.stderr, /internal error|    at /);
    }
  });

  it('a model folder that does not exist: exit 1 naming the path', async () => {
    const missing = path.join(ROOT, 'no-such-model-folder');
    const r = await cli('predict', missing, '--text', 'hello');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.match(r.stderr, /^error: /m);
    const i = await cli('inspect', missing, '--json');
    assert.equal(i.code, 1);
    assert.ok(i.stderr.includes(missing), i.stderr);
  });

  it('unknown command: exit 2 naming it, with the command list', async () => {
    const r = await cli('frobnicate', FIXTURE);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.match(r.stderr, /inspect/);
    assert.match(r.stderr, /predict/);
  });

  it('predict without --text: exit 2 saying --text is required', async () => {
    const r = await cli('predict', FIXTURE, '--json');
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--text is required/);
  });

  it('other usage errors exit 2: no model folder, an unknown option, a bad --backend', async () => {
    const runs = await Promise.all([
      cli('predict', '--text', 'hi'),
      cli('inspect', FIXTURE, '--frob'),
      cli('inspect', FIXTURE, '--backend', 'gpu'),
    ]);
    for (const r of runs) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^peft-studio: /);
    }
    assert.match(runs[2]!.stderr, /--backend must be one of/);
  });
});
