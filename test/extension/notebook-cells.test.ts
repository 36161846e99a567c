/** Notebook cells: parsing, `extends: previous` chains, and schema-driven checks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeConfig, parseCell, resolveCell } from '../../extension/src/notebook/cells';
import { suggestionsAt } from '../../extension/src/notebook/completion';
import { configKeys, validateConfig, withDefaults } from '../../extension/src/notebook/schema';
import { METHOD_INFOS } from '../../engine/peft/catalog';

/** Every method name a config may give: the catalog's names and aliases, and distill. */
const METHOD_NAMES = [...METHOD_INFOS.flatMap((m) => [m.name, ...(m.aliases ?? [])]), 'distill'];

const cells = (...texts: string[]) => texts.map(parseCell);

describe('cell parsing', () => {
  it('reads a YAML run cell with key spans pointing at the keys', () => {
    const text = 'model: m\nlearning_rate: 4e-4\n';
    const c = parseCell(text);
    assert.equal(c.kind, 'run');
    assert.deepEqual(c.config, { model: 'm', learning_rate: 4e-4 });
    assert.equal(text.slice(...c.keySpans.learning_rate!), 'learning_rate');
    assert.equal(text.slice(...c.valueSpans.learning_rate!), '4e-4');
  });

  it('reads JSON cells too', () => assert.deepEqual(parseCell('{"model": "m", "bias_terms": ["all"]}').config, { model: 'm', bias_terms: ['all'] }));

  it('treats a comment-only cell as empty and a compare cell as compare', () => {
    assert.equal(parseCell('# nothing yet\n').kind, 'empty');
    assert.deepEqual(parseCell('compare: all').compare, 'all');
    assert.deepEqual(parseCell('compare: [a1b2c3, d4e5f6]').compare, ['a1b2c3', 'd4e5f6']);
  });

  it('reports a syntax error at its position', () => {
    const text = 'model: m\nlearning_rate: [1, 2\n';
    const c = parseCell(text);
    assert.equal(c.problems.length > 0, true);
    assert.ok(c.problems[0]!.span[0] >= text.indexOf('['));
  });

  it('reports duplicate keys and non-mapping cells', () => {
    assert.ok(parseCell('a: 1\na: 2\n').problems.length > 0);
    assert.match(parseCell('- a\n- b\n').problems[0]!.message, /mapping/);
  });

  it('accepts only extends: previous', () => {
    assert.equal(parseCell('extends: previous\nlearning_rate: 1').extendsPrevious, true);
    assert.match(parseCell('extends: cell 2').problems[0]!.message, /extends: previous/);
  });
});

describe('inheritance (extends: previous)', () => {
  it('overrides only the keys a cell sets', () => {
    const r = resolveCell(cells('model: m\ntrain_file: t\nlearning_rate: 0.001\n', 'extends: previous\nlearning_rate: 4e-4\n'), 1);
    assert.deepEqual(r, { ok: true, config: { model: 'm', train_file: 't', learning_rate: 4e-4 }, chain: [1, 0] });
  });

  it('follows a chain and stops at the first cell that does not extend', () => {
    const nb = cells('model: old\n', 'model: m\nseed: 1\n', 'extends: previous\nseed: 2\nbias_terms: [all]\n', 'extends: previous\nbias_terms: [sparse]\n');
    const r = resolveCell(nb, 3);
    assert.ok(r.ok);
    assert.deepEqual(r.config, { model: 'm', seed: 2, bias_terms: ['sparse'] });
    assert.deepEqual(r.chain, [3, 2, 1]);
  });

  it('skips compare and empty cells when looking upward', () => {
    const r = resolveCell(cells('model: m\n', 'compare: all\n', '# notes only\n', 'extends: previous\nseed: 3\n'), 3);
    assert.ok(r.ok);
    assert.deepEqual(r.config, { model: 'm', seed: 3 });
  });

  it('merges nested keys one by one and lets null remove a key', () => {
    assert.deepEqual(mergeConfig({ a: { x: 1, y: 2 }, b: [1, 2], c: 1 }, { a: { y: 3 }, b: [9], c: null }), { a: { x: 1, y: 3 }, b: [9] });
    const r = resolveCell(cells('opt:\n  beta1: 0.9\n  beta2: 0.999\n', 'extends: previous\nopt:\n  beta2: 0.98\n'), 1);
    assert.ok(r.ok);
    assert.deepEqual(r.config, { opt: { beta1: 0.9, beta2: 0.98 } });
  });

  it('is a clear error when there is no cell above to extend', () => {
    const r = resolveCell(cells('extends: previous\nlearning_rate: 1\n'), 0);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /no run cell above/);
    const r2 = resolveCell(cells('compare: all', 'extends: previous\n'), 1);
    assert.equal(r2.ok, false);
  });

  it('names the broken ancestor when a cell up the chain has an error', () => {
    const r = resolveCell(cells('model: [m\n', 'extends: previous\nseed: 1\n'), 1);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /cell 1, which this one extends/);
  });
});

describe('config checks from the JSON schema', () => {
  it('accepts a valid config', () => assert.deepEqual(validateConfig({ model: 'm', train_file: 't', learning_rate: 4e-4, bias_terms: ['sparse'], train_head: false, max_steps: -1 }), []));

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a missing model', { train_file: 't' }, /"model" is required/],
    ['an unknown key, with a suggestion', { model: 'm', train_file: 't', learning_rte: 1e-3 }, /unknown setting "learning_rte" \(did you mean "learning_rate"\?\)/],
    ['a wrong type', { model: 'm', train_file: 't', train_head: 'yes' }, /train_head must be boolean/],
    ['a non-integer batch size', { model: 'm', train_file: 't', per_device_train_batch_size: 8.5 }, /must be integer/],
    ['a zero learning rate', { model: 'm', train_file: 't', learning_rate: 0 }, /must be > 0/],
    ['eval_split of 1', { model: 'm', train_file: 't', eval_split: 1 }, /must be < 1/],
    ['an enum miss', { model: 'm', train_file: 't', lr_scheduler_type: 'step' }, /one of/],
    ['a bias list of numbers', { model: 'm', train_file: 't', bias_terms: 'all' }, /bias_terms must be array/],
    ['an unknown method', { model: 'm', train_file: 't', method: 'lora2' }, /method must be one of "full", "bitfit", "lora", .*"distill", got "lora2"/],
    ['a distill block without a teacher', { model: 'm', train_file: 't', distill: { temperature: 2 } }, /distill needs "teacher"/],
    ['a distill spec with a student method that is not one', { model: 'm', train_file: 't', method: { name: 'distill', teacher: 'runs/x', student_method: 'lora2' } }, /method\.student_method must be one of/],
    ["another method's setting", { model: 'm', train_file: 't', method: 'lora', bias_terms: ['all'] }, /bias_terms is a setting of BitFit, not of LoRA/],
    ["a LoRA setting without a method (BitFit, the default)", { model: 'm', train_file: 't', lora_r: 8 }, /lora_r is a setting of LoRA, not of BitFit \(method: bitfit, the default\)/],
    ["another method's setting under an alias (seq_bn = Pfeiffer adapters)", { model: 'm', train_file: 't', method: 'seq_bn', lora_r: 4 }, /lora_r is a setting of LoRA, not of Pfeiffer adapters/],
    ['an adapter activation that is not one', { model: 'm', train_file: 't', method: 'houlsby', non_linearity: 'mish' }, /non_linearity must be one of/],
    ['a LoRA rank of 0 (top-level key)', { model: 'm', train_file: 't', method: 'lora', lora_r: 0 }, /lora_r must be ≥ 1, got 0/],
    ['a LoRA rank of 0 (method object)', { model: 'm', train_file: 't', method: { name: 'lora', r: 0 } }, /method\.r must be ≥ 1, got 0/],
    ['an unknown setting in a method object', { model: 'm', train_file: 't', method: { name: 'lora', rank: 8 } }, /method has no setting "rank" \(its settings: name, r, lora_alpha/],
    ['a method object without a name', { model: 'm', train_file: 't', method: { r: 8 } }, /method needs "name"/],
    ['a LoRA target word that is not one', { model: 'm', train_file: 't', method: 'lora', target_modules: 'everything' }, /target_modules must be/],
    ['a union miss, told by the branch of the value\'s type (a number: the integer branch)', { model: 'm', train_file: 't', per_device_train_micro_batch_size: 0 }, /per_device_train_micro_batch_size must be ≥ 1, got 0/],
    ['a union miss, told by the branch of the value\'s type (a string: "auto")', { model: 'm', train_file: 't', per_device_train_micro_batch_size: 'fast' }, /must be "auto", got "fast"/],
    ['a union miss of no branch\'s type', { model: 'm', train_file: 't', per_device_train_micro_batch_size: true }, /must be "auto" or integer ≥ 1, got true/],
    ['output_dir (the host sets it)', { model: 'm', train_file: 't', output_dir: '/tmp/x' }, /set by PEFT Studio/],
  ];
  for (const [name, config, want] of bad) {
    it(`rejects ${name}`, () => {
      const issues = validateConfig(config);
      assert.ok(issues.some((i) => want.test(i.message)), JSON.stringify(issues));
    });
  }

  it('accepts every way of writing a method', () => {
    for (const extra of [
      { method: 'lora', lora_r: 16, target_modules: 'all-linear', lora_alpha: 32 },
      { method: { name: 'lora', r: 4, target_modules: ['query', 'key'], layers_to_transform: [0] } },
      { method: { name: 'bitfit', bias_terms: ['sparse'] }, train_head: false },
      { method: 'full' },
      { bias_terms: ['query'] },
      { method: 'pfeiffer', reduction_factor: 8, non_linearity: 'gelu' },
      { method: 'seq_bn', reduction_factor: 8 },
      { method: { name: 'par_bn', reduction_factor: 4 } },
      { distill: { teacher: 'runs/t', student_layers: 2, temperature: 4 }, method: 'lora', lora_r: 4 },
      { method: { name: 'distill', teacher: 'runs/t', student_method: { name: 'lora', r: 4 }, alpha_cos: 0.1 } },
    ]) assert.deepEqual(validateConfig({ model: 'm', train_file: 't', ...extra }), [], JSON.stringify(extra));
  });

  it('a distillation needs no model (its student is the teacher\'s layers or distill.student); any other run does', () => {
    assert.deepEqual(validateConfig({ train_file: 't', method: { name: 'distill', teacher: 'runs/t', student_layers: 1, student_method: 'bitfit' } }), []);
    assert.deepEqual(validateConfig({ train_file: 't', distill: { teacher: 'runs/t' }, method: 'lora' }), []);
    assert.deepEqual(validateConfig({ train_file: 't', method: 'lora' }).map((i) => i.message), ['"model" is required (set it here or in a cell this one extends)']);
    assert.deepEqual(validateConfig({ model: 'm', method: 'distill' }).map((i) => i.message).filter((m) => /required/.test(m)), ['"train_file" is required (set it here or in a cell this one extends)']);
  });

  it('accepts either branch of a union', () => {
    for (const v of ['auto', 4]) assert.deepEqual(validateConfig({ model: 'm', train_file: 't', per_device_train_micro_batch_size: v }), []);
  });

  it('offers every schema key for completion, with enum values', () => {
    const keys = configKeys();
    const sched = keys.find((k) => k.key === 'lr_scheduler_type');
    assert.deepEqual(sched?.values, ['constant', 'constant_with_warmup', 'linear', 'cosine']);
    assert.deepEqual(keys.find((k) => k.key === 'train_head')?.values, ['true', 'false']);
    assert.deepEqual(keys.find((k) => k.key === 'per_device_train_micro_batch_size')?.values, ['auto']);
    assert.equal(keys.some((k) => k.key === 'output_dir'), false);
    assert.deepEqual(keys.find((k) => k.key === 'method')?.values, METHOD_NAMES);
    assert.deepEqual(keys.find((k) => k.key === 'lora_r')?.methods, ['lora']);
  });

  it("offers a method's own keys only with that method", () => {
    const keys = (m: string | null) => new Set(configKeys(m).map((k) => k.key));
    assert.ok(keys('lora').has('lora_r') && keys('lora').has('target_modules') && !keys('lora').has('bias_terms'));
    assert.ok(keys('bitfit').has('bias_terms') && !keys('bitfit').has('lora_r'));
    assert.ok(!keys(null).has('bias_terms') && !keys(null).has('lora_r') && keys(null).has('method') && keys(null).has('learning_rate'));
  });

  it('fills schema defaults under explicit values', () => {
    const c = withDefaults({ learning_rate: 4e-4 });
    assert.equal(c.learning_rate, 4e-4);
    assert.equal(c.num_train_epochs, 3);
  });
});

describe('completion in cells', () => {
  it('offers unused keys at the start of a line, extends: previous only on the first line', () => {
    const first = suggestionsAt('', new Set(), true);
    assert.equal(first[0]!.insertText, 'extends: previous');
    assert.ok(first.some((s) => s.label === 'learning_rate' && s.insertText === 'learning_rate: '));
    const later = suggestionsAt('lear', new Set(['model']), false);
    assert.ok(!later.some((s) => s.label === 'extends' || s.label === 'model'));
  });

  it('offers enum values after a key, and nothing in comments or nested lines', () => {
    assert.deepEqual(suggestionsAt('lr_scheduler_type: ', new Set(), false).map((s) => s.label), ['constant', 'constant_with_warmup', 'linear', 'cosine']);
    assert.deepEqual(suggestionsAt('extends: ', new Set(), true).map((s) => s.label), ['previous']);
    assert.deepEqual(suggestionsAt('learning_rate: ', new Set(), false), []);
    assert.deepEqual(suggestionsAt('# lear', new Set(), false), []);
    assert.deepEqual(suggestionsAt('  nested', new Set(), false), []);
  });

  it('offers the method names after method:, and its own keys once the method is known', () => {
    const methods = suggestionsAt('method: ', new Set(), false);
    assert.deepEqual(methods.map((s) => s.label), METHOD_NAMES);
    assert.equal(methods.find((s) => s.label === 'lora')?.detail, 'LoRA');
    const none = suggestionsAt('lo', new Set(['model']), false).map((s) => s.label);
    assert.ok(none.includes('method') && !none.includes('lora_r'), 'no method yet: no method-specific keys');
    const lora = suggestionsAt('lo', new Set(['method']), false, 'lora');
    assert.ok(lora.some((s) => s.label === 'lora_r' && s.detail?.startsWith('LoRA setting')));
    assert.ok(!lora.some((s) => s.label === 'bias_terms'));
    assert.deepEqual(suggestionsAt('target_modules: ', new Set(), false, 'lora').map((s) => s.label), ['all-linear']);
    assert.deepEqual(suggestionsAt('init_lora_weights: ', new Set(), false, 'lora').map((s) => s.label), ['default', 'gaussian']);
  });
});

describe('extends: previous across methods', () => {
  it("a cell that switches the method drops the previous method's settings and keeps the rest", () => {
    const cells = [
      parseCell('model: m\ntrain_file: t\nmethod: bitfit\nbias_terms: [sparse]\ntrain_head: false\nlearning_rate: 0.001\n'),
      parseCell('extends: previous\nmethod: lora\nlora_r: 4\n'),
      parseCell('extends: previous\nlearning_rate: 0.0005\n'),
      parseCell('extends: previous\nmethod: { name: full }\n'),
    ];
    const r = cells.map((_, i) => resolveCell(cells, i));
    assert.ok(r.every((x) => x.ok));
    const cfg = r.map((x) => (x.ok ? x.config : {}));
    assert.deepEqual(cfg[1], { model: 'm', train_file: 't', learning_rate: 0.001, method: 'lora', lora_r: 4 });
    assert.deepEqual(cfg[2], { model: 'm', train_file: 't', learning_rate: 0.0005, method: 'lora', lora_r: 4 }, 'same method: settings inherit');
    assert.deepEqual(cfg[3], { model: 'm', train_file: 't', learning_rate: 0.0005, method: { name: 'full' } });
    for (const c of cfg) assert.deepEqual(validateConfig(c), []);
  });
});
