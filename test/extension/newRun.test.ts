/** New Run's questions per method (extension/src/newRunPlan.ts): pure, from the engine's method catalog. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { METHOD_INFOS } from '../../engine/peft/catalog';
import { resolveRunConfig } from '../../engine/train/config';
import { newRunId } from '../../engine/train/run-dir';
import { methodPicks, newRunConfig, settingAnswer, settingQuestions, trainingDefaults } from '../../extension/src/newRunPlan';
import { parseWebviewMessage } from '../../extension/src/protocol-validate';

const general = { epochs: 3, batchSize: 16, maxLength: 128 };

describe('New Run: the method first', () => {
  it('offers every method of the catalog with its title and description, the last one used first', () => {
    const picks = methodPicks();
    assert.deepEqual(picks.map((p) => p.method), METHOD_INFOS.map((m) => m.name));
    assert.deepEqual(picks.map((p) => p.label), METHOD_INFOS.map((m) => m.title));
    assert.ok(picks.every((p, i) => p.description === METHOD_INFOS[i]!.description));
    assert.match(picks.find((p) => p.method === 'lora')!.detail, /HF PEFT adapter files/);
    assert.deepEqual(methodPicks('lora').map((p) => p.method)[0], 'lora');
  });
});

describe("New Run: only the method's asked settings", () => {
  it('LoRA: r, lora_alpha and target_modules, at their defaults or the last answers', () => {
    const q = settingQuestions('lora');
    assert.deepEqual(q.map((x) => x.setting.key), ['r', 'lora_alpha', 'target_modules']);
    assert.deepEqual(q.map((x) => (x.kind === 'input' ? x.value : '')), ['8', '8', 'query, value']);
    const again = settingQuestions('lora', { r: 16, target_modules: 'all-linear' });
    assert.deepEqual(again.map((x) => (x.kind === 'input' ? x.value : '')), ['16', '8', 'all-linear']);
  });

  it('BitFit: the bias terms; full fine-tuning: nothing', () => {
    assert.deepEqual(settingQuestions('bitfit').map((x) => x.setting.key), ['bias_terms']);
    assert.deepEqual(settingQuestions('full'), []);
    assert.deepEqual(settingQuestions('no-such-method'), []);
  });

  it("every method's questions are exactly its settings marked ask", () => {
    for (const m of METHOD_INFOS) assert.deepEqual(settingQuestions(m.name).map((q) => q.setting.key), m.settings.filter((s) => s.ask).map((s) => s.key));
  });

  it("answers are typed and checked by the engine's settings rules", () => {
    const r = (key: string) => METHOD_INFOS.find((m) => m.name === 'lora')!.settings.find((s) => s.key === key)!;
    assert.deepEqual(settingAnswer('lora', r('r'), '16'), { value: 16 });
    assert.match((settingAnswer('lora', r('r'), '0') as { error: string }).error, /r must be ≥ 1/);
    assert.match((settingAnswer('lora', r('r'), '2.5') as { error: string }).error, /integer/);
    assert.match((settingAnswer('lora', r('lora_alpha'), '0') as { error: string }).error, /> 0/);
    assert.deepEqual(settingAnswer('lora', r('target_modules'), 'query, key,value'), { value: ['query', 'key', 'value'] });
    assert.deepEqual(settingAnswer('lora', r('target_modules'), 'all-linear'), { value: 'all-linear' });
    const bias = METHOD_INFOS.find((m) => m.name === 'bitfit')!.settings[0]!;
    assert.deepEqual(settingAnswer('bitfit', bias, 'query, intermediate'), { value: ['query', 'intermediate'] });
  });
});

describe('New Run: training numbers and the saved config', () => {
  it('learning rate per method unless this method was used before', () => {
    assert.equal(trainingDefaults('full', undefined, general).learningRate, 2e-5);
    assert.equal(trainingDefaults('bitfit', undefined, general).learningRate, 1e-3);
    assert.equal(trainingDefaults('lora', undefined, general).learningRate, 5e-4);
    assert.deepEqual(trainingDefaults('lora', { learningRate: 1e-4, epochs: 5 }, general), { learningRate: 1e-4, epochs: 5, batchSize: 16, maxLength: 128 });
  });

  it('writes method: { name, …settings } that the engine resolves', () => {
    const config = newRunConfig({ model: '/m', trainFile: '/d/reviews.tsv', method: { name: 'lora', r: 4, lora_alpha: 8, target_modules: ['query', 'value'] }, training: { learningRate: 5e-4, epochs: 2, batchSize: 8, maxLength: 32 } });
    assert.deepEqual(config.method, { name: 'lora', r: 4, lora_alpha: 8, target_modules: ['query', 'value'] });
    assert.equal(config.run_name, 'reviews · LoRA r=4 lora_alpha=8 query+value · lr 0.0005');
    const resolved = resolveRunConfig(config, '/');
    assert.equal(resolved.method.name, 'lora');
    assert.equal(resolved.method.r, 4);
    assert.equal(resolved.learning_rate, 5e-4);
  });

  it('"hold out 10%" is written as eval_split, so a dev file beside the data does not replace it; a chosen eval file as eval_file', () => {
    const training = { learningRate: 5e-4, epochs: 2, batchSize: 8, maxLength: 32 };
    assert.equal(newRunConfig({ model: '/m', trainFile: '/d/train.tsv', method: { name: 'bitfit' }, training }).eval_split, 0.1);
    const withFile = newRunConfig({ model: '/m', trainFile: '/d/train.tsv', evalFile: '/d/dev.tsv', method: { name: 'bitfit' }, training });
    assert.equal(withFile.eval_file, '/d/dev.tsv');
    assert.equal(withFile.eval_split, undefined);
  });
});

describe('run ids of method objects', () => {
  it("name the method, and are ids the dashboard's messages may carry", () => {
    for (const method of [{ name: 'lora', r: 4 }, 'bitfit', { name: 'full' }]) {
      const id = newRunId({ train_file: '/d/sst2/train.tsv', method });
      assert.match(id, new RegExp(`-${typeof method === 'string' ? method : method.name}-sst2-`));
      assert.ok(parseWebviewMessage({ v: 1, kind: 'run/pause', runId: id }).ok, id);
    }
  });
});
