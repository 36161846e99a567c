import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { expandStudy, loadStudyFile, methodLabel, runId, STUDY_KEYS, validateStudyConfig } from './config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-study-cfg-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const base = { model: 'm', train_file: 't.tsv', max_steps: 5 };

const badInput = (re: RegExp) => (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && re.test(e.message);

describe('study config', () => {
  it('expands every combination of the axes, last axis fastest, with folder names from the axis values', () => {
    const s = expandStudy(validateStudyConfig({ base, axes: { method: ['bitfit', { name: 'lora', r: 4, label: 'lora-r4' }], seed: [0, 1], train_rows: [10, 20] } }), '/base');
    assert.equal(s.runs.length, 8);
    assert.deepEqual(s.runs.map((r) => r.id).slice(0, 3), ['method-bitfit__seed-0__train_rows-10', 'method-bitfit__seed-0__train_rows-20', 'method-bitfit__seed-1__train_rows-10']);
    const lora = s.runs.find((r) => r.axes.method === 'lora-r4')!;
    assert.deepEqual(lora.config.method, { ...lora.config.method, name: 'lora', r: 4 });
    assert.equal(lora.config.seed, 0);
    assert.equal(lora.study.train_rows, 10);
    assert.equal('train_rows' in lora.config, false, 'study keys never reach the run config');
    assert.equal(lora.config.model, '/base/m');
    assert.equal(new Set(s.runs.map((r) => r.id)).size, 8);
  });

  it('takes a method setting by its key or by its run-config key, and run keys (learning_rate) per method', () => {
    const s = expandStudy(validateStudyConfig({ base, axes: { method: [{ name: 'lora', lora_r: 2, label: 'a' }, { name: 'full', learning_rate: 1e-4, label: 'f' }, { name: 'bitfit', bias_terms: ['sparse'] }] } }), '/b');
    assert.equal(s.runs[0]!.config.method.r, 2);
    assert.equal(s.runs[1]!.config.learning_rate, 1e-4);
    assert.equal(s.runs[2]!.config.learning_rate, 1e-3);
    assert.equal(s.runs[2]!.axes.method, 'bitfit(bias_terms=sparse)');
    assert.deepEqual(s.runs[2]!.config.method.bias_terms, ['sparse']);
  });

  it('names the key at fault', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ axes: {} }, /base must be a mapping/],
      [{ base, axes: { seed: 3 } }, /axes\.seed must be a non-empty list/],
      [{ base, axes: { seed: [] } }, /axes\.seed must be a non-empty list/],
      [{ base, axes: { train_rows: [10, -1] } }, /axes\.train_rows\[1\] must be a positive integer/],
      [{ base: { ...base, init_from_scratch: 'yes' } }, /base\.init_from_scratch must be true or false/],
      [{ base, axes: { method: [{ r: 4 }] } }, /axes\.method\[0\] must be a method name/],
      [{ base, axes: { method: ['lora', 'lora'] } }, /axes\.method lists lora twice/],
      [{ base, axes: {}, colour: 1 }, /colour is not a study key/],
      [{ base: { ...base, output_dir: 'x' } }, /output_dir is set by the study/],
    ];
    for (const [raw, re] of cases) assert.throws(() => validateStudyConfig(raw, 'study.yaml'), badInput(re), String(re));
  });

  it('refuses a bad run setting or a method this version lacks before anything runs, naming the run', () => {
    assert.throws(() => expandStudy(validateStudyConfig({ base, axes: { method: ['bitfit', 'houlsby-nope'] } }), '/b'), badInput(/run method-houlsby-nope.*unknown method "houlsby-nope".*available: .*bitfit/));
    assert.throws(() => expandStudy(validateStudyConfig({ base, axes: { learning_rat: [1, 2] } }), '/b'), badInput(/unknown setting\(s\): learning_rat/));
    assert.throws(() => expandStudy(validateStudyConfig({ base, axes: { method: [{ name: 'lora', r: 0 }] } }), '/b'), badInput(/lora: r must be ≥ 1/));
  });

  it('reads YAML and JSON files, paths relative to the file', () => {
    const y = path.join(dir, 'a.yaml');
    fs.writeFileSync(y, 'base: { model: m, train_file: d/t.tsv }\naxes: { method: [full, bitfit], seed: [1] }\n');
    const s = loadStudyFile(y);
    assert.equal(s.name, 'a');
    assert.equal(s.runs.length, 2);
    assert.equal(s.runs[0]!.config.train_file, path.join(dir, 'd/t.tsv'));
    const j = path.join(dir, 'b.json');
    fs.writeFileSync(j, JSON.stringify({ name: 'B', base, axes: { seed: [1, 2] } }));
    assert.equal(loadStudyFile(j).name, 'B');
    fs.writeFileSync(y, 'base: [1');
    assert.throws(() => loadStudyFile(y), badInput(/not valid YAML/));
  });

  it('folder names are valid everywhere; long or odd ones get a hash', () => {
    assert.equal(runId([], {}), 'run');
    const odd = runId(['method'], { method: 'bitfit(bias_terms=q+m2)' });
    assert.match(odd, /^[A-Za-z0-9_.+=-]+$/);
    assert.notEqual(odd, runId(['method'], { method: 'bitfit(bias_terms=q,m2)' }));
    assert.equal(methodLabel({ name: 'lora', r: 4 }), 'lora(r=4)');
  });
});

describe('study schema', () => {
  it('schemas/study.schema.json names exactly the study keys the loader accepts', () => {
    const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../schemas/study.schema.json'), 'utf8'));
    assert.deepEqual(Object.keys(schema.properties).sort(), ['$schema', 'axes', 'base', 'metric', 'name']);
    assert.deepEqual(Object.keys(schema.properties.base.properties).sort(), [...STUDY_KEYS].sort());
    for (const k of STUDY_KEYS) assert.ok(k in schema.properties.axes.properties, k);
    assert.throws(() => validateStudyConfig({ base, axes: {}, extra: 1 }), badInput(/extra is not a study key/));
  });
});
