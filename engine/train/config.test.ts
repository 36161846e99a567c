import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { DEFAULTS, methodSettingKeys, resolveRunConfig } from './config';

const schema = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../schemas/run-config.schema.json'), 'utf8'));

describe('run config', () => {
  it('the JSON schema documents exactly the settings the engine accepts, with the same defaults', () => {
    const optional = ['eval_file', 'text_column', 'text_pair_column', 'label_column', 'output_dir', 'run_name', 'metric_for_best_model', 'resume_from_checkpoint', 'adapter', 'distill', 'init_checkpoint'];
    const keys = [...new Set(['$schema', 'model', 'train_file', ...optional, ...Object.keys(DEFAULTS), ...methodSettingKeys().keys()])].sort();
    assert.deepEqual(Object.keys(schema.properties).sort(), keys);
    for (const [k, v] of Object.entries(DEFAULTS)) if (k !== 'method') assert.deepEqual(schema.properties[k].default, v, `default of ${k}`);
  });

  it('fills defaults and resolves paths against the config file folder', () => {
    const c = resolveRunConfig({ model: 'm', train_file: 'data/t.tsv' }, '/base');
    assert.equal(c.model, '/base/m');
    assert.equal(c.train_file, '/base/data/t.tsv');
    assert.equal(c.learning_rate, DEFAULTS.learning_rate);
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['unknown key', { learning_rat: 1 }, /unknown setting.*learning_rat/],
    ['negative lr', { learning_rate: -1 }, /learning_rate/],
    ['fractional batch', { per_device_train_batch_size: 2.5 }, /per_device_train_batch_size/],
    ['bad schedule', { lr_scheduler_type: 'step' }, /lr_scheduler_type/],
    ['bad method', { method: 'ia3' }, /unknown method "ia3"/],
    ['bad method setting', { method: 'lora', lora_r: 0 }, /lora: r must be ≥ 1/],
    ['zero max_steps', { max_steps: 0 }, /max_steps/],
    ['empty bias terms', { bias_terms: [] }, /bias_terms/],
    ['eval split 1', { eval_split: 1 }, /eval_split/],
  ];
  for (const [name, patch, re] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => resolveRunConfig({ model: 'm', train_file: 't', ...patch }),
        (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && re.test(e.message),
      );
    });
  }
  it('requires model and train_file', () => {
    assert.throws(() => resolveRunConfig({ train_file: 't' } as never), /"model"/);
    assert.throws(() => resolveRunConfig({ model: 'm' } as never), /"train_file"/);
  });
});
