/**
 * The CLI contract every adapter-style method keeps (one row per method), through the real `peft-studio`
 * binary: `train --method M [method flags]`, `export RUN --adapter OUT --merged OUT`, `predict MODEL
 * --adapter DIR --json` (the merged model's numbers), `train --model MODEL --adapter DIR` (the adapter sets
 * the method and its settings), and bad input refused before a run folder exists.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeEvent, type RunEvent, type StartedEvent } from '../../engine/protocol/events';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { relL2 } from '../helpers/method-fixtures';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';
import { REPO_ROOT as ROOT, runCli, type CliRun } from '../helpers/cli';


type Run = CliRun;

const cli = (...args: string[]): Promise<Run> => runCli(args);

function events(r: Run): RunEvent[] {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => decodeEvent(l)!);
}

interface Row {
  method: string;
  /** Method flags for `train`. */
  flags: string[];
  /** Settings the adapter's config must carry back into `train --adapter`. */
  settings: Record<string, unknown>;
  mergeable: boolean;
  /** What refusing an adapter for a base of another hidden size says (default: the first tensor whose shape differs). */
  otherBase?: RegExp;
}

const ROWS: Row[] = [
  { method: 'lora', flags: ['--lora-r', '4', '--lora-alpha', '8', '--target-modules', 'query,value'], settings: { r: 4, lora_alpha: 8, target_modules: ['query', 'value'] }, mergeable: true },
  {
    method: 'houlsby',
    flags: ['--reduction-factor', '8', '--non-linearity', 'gelu', '--leave-out', '0'],
    settings: { reduction_factor: 8, non_linearity: 'gelu', leave_out: [0] },
    mergeable: false,
    otherBase: /hidden_size \d+ \(adapter_config\.json "hidden_size"\), but this base model's hidden size is 48/,
  },
  {
    method: 'parallel-adapter',
    flags: ['--reduction-factor', '4', '--adapter-scaling', '2'],
    settings: { reduction_factor: 4, scaling: 2, init_weights: 'mam_adapter' },
    mergeable: false,
    otherBase: /hidden size is 48/,
  },
  { method: 'prompt-tuning', flags: ['--num-virtual-tokens', '4'], settings: { num_virtual_tokens: 4, prompt_tuning_init: 'RANDOM' }, mergeable: false },
  { method: 'p-tuning', flags: ['--num-virtual-tokens', '3', '--encoder-hidden-size', '8'], settings: { num_virtual_tokens: 3, encoder_hidden_size: 8 }, mergeable: false },
  { method: 'prefix-tuning', flags: ['--num-virtual-tokens', '3', '--prefix-projection', 'true', '--encoder-hidden-size', '8'], settings: { num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 8 }, mergeable: false },
];
/** Leaves positions for virtual tokens in the generated models' 64. */
const MAX_LENGTH = ['--max-length', '32'];

after(() => {
  removeModelDirs();
  removeTempDirs();
});

for (const row of ROWS) {
  describe(`CLI contract: ${row.method}`, () => {
    let gen: GeneratedModel;
    let dir: string;
    let trainFile: string;
    let run: string;
    before(async () => {
      gen = makeTinyModel({ seed: 21, dropout: false });
      dir = tempDir('peft-cli-method-');
      trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(24, 5));
      run = path.join(dir, 'run');
      const r = await cli('train', '--model', gen.dir, '--train', trainFile, '--method', row.method, ...row.flags, ...MAX_LENGTH, '--max-steps', '4', '--per-device-train-batch-size', '8', '--learning-rate', '0.01', '--eval-split', '0', '--out', run, '--json');
      const started = events(r).find((e): e is StartedEvent => e.type === 'started')!;
      assert.equal(started.method, row.method);
      for (const [k, v] of Object.entries(row.settings)) assert.deepEqual((started.config.method as Record<string, unknown>)[k], v, k);
    });

    it('export --adapter and --merged; predict --adapter prints the merged model’s numbers', async () => {
      const adapter = path.join(dir, 'adapter');
      const merged = path.join(dir, 'merged');
      const e = await cli('export', run, '--adapter', adapter, ...(row.mergeable ? ['--merged', merged] : []));
      assert.equal(e.code, 0, e.stderr);
      assert.ok(fs.existsSync(path.join(adapter, 'adapter_config.json')));
      const text = makeRows(3, 99)[1]!.text;
      const viaAdapter = await cli('predict', gen.dir, '--adapter', adapter, '--text', text, '--json');
      assert.equal(viaAdapter.code, 0, viaAdapter.stderr);
      const a = JSON.parse(viaAdapter.stdout);
      if (row.mergeable) {
        const viaMerged = JSON.parse((await cli('predict', merged, '--text', text, '--json')).stdout);
        assert.ok(relL2(a.logits, viaMerged.logits) <= 1e-5, `adapter ${a.logits} vs merged ${viaMerged.logits}`);
        assert.equal(a.label, viaMerged.label);
      } else {
        const m = await cli('export', run, '--merged', merged);
        assert.equal(m.code, 1);
        assert.match(m.stderr, /cannot be merged/);
      }
      const base = JSON.parse((await cli('predict', gen.dir, '--text', text, '--json')).stdout);
      assert.ok(relL2(a.logits, base.logits) > 1e-4, 'the adapter changed nothing');
    });

    it('train --adapter continues from the adapter: its config sets the method and settings', async () => {
      const adapter = path.join(dir, 'adapter');
      const r = await cli('train', '--model', gen.dir, '--adapter', adapter, '--train', trainFile, ...MAX_LENGTH, '--max-steps', '1', '--eval-split', '0', '--out', path.join(dir, 'cont'), '--json');
      const started = events(r).find((e): e is StartedEvent => e.type === 'started')!;
      assert.equal(started.method, row.method);
      for (const [k, v] of Object.entries(row.settings)) assert.deepEqual((started.config.method as Record<string, unknown>)[k], v, k);
      assert.ok(started.notices.some((n) => /loaded the adapter .* \(/.test(n)), started.notices.join('\n'));
    });

    it('refuses an adapter for another base, naming the tensor, before a run folder exists', async () => {
      const other = makeTinyModel({ seed: 22, hidden: 48, heads: 4, dropout: false });
      const out = path.join(dir, 'never');
      const r = await cli('train', '--model', other.dir, '--adapter', path.join(dir, 'adapter'), '--train', trainFile, ...MAX_LENGTH, '--max-steps', '1', '--out', out);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, row.otherBase ?? /has shape \[.*\], this model's is \[.*\]/);
      assert.equal(fs.existsSync(out), false);
      const p = await cli('predict', other.dir, '--adapter', path.join(dir, 'adapter'), '--text', 'x');
      assert.equal(p.code, 1);
      assert.match(p.stderr, /another base model/);
    });
  });
}

describe('CLI: bad method input is refused before any work', () => {
  let gen: GeneratedModel;
  let dir: string;
  let trainFile: string;
  before(() => {
    gen = makeTinyModel({ seed: 23 });
    dir = tempDir('peft-cli-bad-');
    trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(8, 5));
  });

  for (const [label, flags, pattern] of [
    ['r = 0', ['--method', 'lora', '--lora-r', '0'], /lora: r must be ≥ 1/],
    ['α ≤ 0', ['--method', 'lora', '--lora-alpha=-2'], /lora_alpha must be > 0/],
    ['dropout 1', ['--method', 'lora', '--lora-dropout', '1'], /lora_dropout must be < 1/],
    ['targets that match nothing', ['--method', 'lora', '--target-modules', 'q_proj,v_proj'], /match no linear module of this model \(its linear modules: query, key, value, dense/],
    ['a reduction factor leaving no bottleneck', ['--method', 'pfeiffer', '--reduction-factor', '64'], /reduction_factor 64 leaves a bottleneck of 0 units for hidden size 32/],
    ['an unknown adapter activation', ['--method', 'seq_bn', '--non-linearity', 'mish'], /pfeiffer: non_linearity must be one of relu, gelu/],
    ['an unknown method', ['--method', 'ia3'], /unknown method "ia3" \(available: .*lora/],
    ['a setting of another method', ['--method', 'bitfit', '--lora-r', '4'], /lora_r is a setting of lora, not of method bitfit/],
    ['no virtual tokens', ['--method', 'prompt-tuning', '--num-virtual-tokens', '0'], /num_virtual_tokens must be ≥ 1/],
    ['virtual tokens beside max_length beyond the positions', ['--method', 'p-tuning', '--num-virtual-tokens', '8', '--max-length', '60'], /num_virtual_tokens 8 \+ max_length 60 = 68 exceeds the model's 64 positions by 4; lower max_length to 56/],
    ['an LSTM prompt encoder', ['--method', 'p-tuning', '--encoder-reparameterization-type', 'LSTM'], /LSTM.*use MLP/],
    ['TEXT init without a text', ['--method', 'prompt-tuning', '--prompt-tuning-init', 'TEXT'], /prompt_tuning_init_text/],
  ] as const) {
    it(`${label}`, async () => {
      const out = path.join(dir, label.replace(/\W+/g, '_'));
      const r = await cli('train', '--model', gen.dir, '--train', trainFile, ...flags, '--max-steps', '1', '--out', out);
      assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
      assert.equal(fs.existsSync(out), false, 'a refused run left a folder');
    });
  }

  it('adapter folders that lie or belong to no method we have get a clear error', async () => {
    const lying = path.join(dir, 'lying');
    fs.mkdirSync(lying);
    fs.writeFileSync(path.join(lying, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['query'], task_type: 'SEQ_CLS' }));
    const header = Buffer.from(JSON.stringify({ 'base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight': { dtype: 'F32', shape: [2, 32], data_offsets: [0, 256] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    fs.writeFileSync(path.join(lying, 'adapter_model.safetensors'), Buffer.concat([len, header, Buffer.alloc(100)]));
    const r = await cli('predict', gen.dir, '--adapter', lying, '--text', 'x');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /adapter_model\.safetensors/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const ia3 = path.join(dir, 'ia3');
    fs.mkdirSync(ia3);
    fs.writeFileSync(path.join(ia3, 'adapter_config.json'), JSON.stringify({ peft_type: 'IA3', task_type: 'SEQ_CLS' }));
    const q = await cli('predict', gen.dir, '--adapter', ia3, '--text', 'x');
    assert.equal(q.code, 1);
    assert.match(q.stderr, /peft_type IA3/);
  });
});

describe('CLI: inspect --adapter', () => {
  it("prints a PEFT adapter's method, settings and counts, and a soft prompt's nearest vocabulary tokens", async () => {
    const root = path.resolve(ROOT, '../shared/fixtures/peft-tiny');
    const r = await cli('inspect', path.join(root, 'model'), '--adapter', path.join(root, 'prompt_tuning'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const exp = JSON.parse(fs.readFileSync(path.join(root, 'expected.json'), 'utf8')).methods.prompt_tuning;
    assert.equal(out.adapter.method, 'prompt-tuning');
    assert.equal(out.adapter.trainable, exp.num_trainable);
    assert.equal(out.adapter.nearest.length, 1 + exp.adapter_config.num_virtual_tokens, 'a header and one line per virtual token');
    const lora = JSON.parse((await cli('inspect', path.join(root, 'model'), '--adapter', path.join(root, 'lora_qv'), '--json')).stdout);
    assert.equal(lora.adapter.trainable, JSON.parse(fs.readFileSync(path.join(root, 'expected.json'), 'utf8')).methods.lora_qv.num_trainable);
    assert.equal(lora.adapter.nearest, undefined);
  });
});
