/**
 * The run-config JSON schema is generated from the method catalog (schemas/run-config.ts): the checked-in
 * file must be what the generator writes now, and must say what the engine's resolveRunConfig accepts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BACKEND_NAMES } from '../../engine/backend/select';
import { DISTILL_DEFAULTS } from '../../engine/distill/config';
import { METHOD_INFOS } from '../../engine/peft/catalog';
import type { MethodInfo } from '../../engine/peft/types';
import { DEFAULTS, methodSettingKeys, resolveRunConfig } from '../../engine/train/config';
import { DEFAULT_METHOD } from '../../protocol/method';
import { buildRunConfigSchema, DEFAULT_METHOD_NAME, runConfigSchemaText, SCHEMA_FILE } from '../../schemas/run-config';

const root = path.join(__dirname, '..', '..');
type Props = Record<string, Record<string, unknown>>;

describe('run-config schema', () => {
  it('the checked-in file is what `npm run gen:schema` writes', () => {
    const onDisk = fs.readFileSync(path.join(root, SCHEMA_FILE), 'utf8');
    assert.ok(onDisk === runConfigSchemaText(), `${SCHEMA_FILE} is stale: run npm run gen:schema`);
  });

  const schema = buildRunConfigSchema();
  const props = schema.properties as Props;

  it("names every key the engine's resolveRunConfig knows, and nothing it rejects as unknown", () => {
    for (const k of [...Object.keys(DEFAULTS), ...methodSettingKeys().keys(), 'distill', 'adapter']) assert.ok(k in props, `schema lacks ${k}`);
    for (const k of Object.keys(props)) {
      try {
        resolveRunConfig({ model: 'm', train_file: 't', [k]: 'x' });
      } catch (e) {
        assert.doesNotMatch((e as Error).message, /unknown setting/, `${k}: ${(e as Error).message}`);
      }
    }
  });

  it("the distill block's keys and defaults are the engine's", () => {
    const d = props.distill!.properties as Props;
    assert.deepEqual(Object.keys(d).sort(), ['teacher', ...Object.keys(DISTILL_DEFAULTS), 'student', 'student_layers'].sort());
    for (const [k, v] of Object.entries(DISTILL_DEFAULTS)) assert.equal(d[k]!.default, v, k);
  });

  it("general defaults and enums are the engine's", () => {
    for (const [k, v] of Object.entries(DEFAULTS)) if (k !== 'method') assert.deepEqual(props[k]!.default, v, k);
    assert.equal(DEFAULT_METHOD_NAME, DEFAULTS.method);
    assert.equal(DEFAULT_METHOD, DEFAULTS.method);
    assert.deepEqual(props.backend!.enum, ['auto', ...BACKEND_NAMES]);
  });

  it('method: a name of the catalog, or an object whose keys are that method\'s settings', () => {
    const names = METHOD_INFOS.flatMap((m) => [m.name, ...(m.aliases ?? [])]);
    assert.deepEqual((props.method!.anyOf as Props[])[0]!.enum, [...names, 'distill'], 'names and aliases, and distill, whose student trains with one of them');
    const spec = (schema.definitions as Props).methodSpec!;
    const branches = spec.allOf as Array<{ if: { properties: { name: { enum?: string[] } } }; then: { properties: Record<string, unknown>; additionalProperties: boolean } }>;
    for (const info of METHOD_INFOS) {
      const b = branches.find((x) => x.if.properties.name.enum?.[0] === info.name)!;
      assert.deepEqual(b.if.properties.name.enum, [info.name, ...(info.aliases ?? [])]);
      assert.deepEqual(Object.keys(b.then.properties), ['name', ...info.settings.map((s) => s.key)]);
      assert.equal(b.then.additionalProperties, false);
    }
  });

  it("top-level setting keys (CLI flags in snake_case) are allowed only with their method", () => {
    assert.ok('lora_r' in props && 'target_modules' in props && 'bias_terms' in props);
    const rules = schema.allOf as Array<{ if: unknown; then: { properties: Record<string, false> } }>;
    const forbidden = (method: string) => {
      const r = rules.find((x) => JSON.stringify(x.if).includes(`"enum":["${method}"`));
      return Object.keys(r?.then.properties ?? {});
    };
    assert.ok(forbidden('bitfit').includes('lora_r') && !forbidden('bitfit').includes('bias_terms'));
    assert.ok(forbidden('lora').includes('bias_terms') && !forbidden('lora').includes('lora_r'));
    assert.ok(forbidden('full').includes('bias_terms') && forbidden('full').includes('lora_r'));
    const shared = METHOD_INFOS.filter((m) => m.settings.some((x) => x.key === 'reduction_factor')).map((m) => m.name);
    if (shared.length > 1) {
      for (const m of shared) assert.ok(!forbidden(m).includes('reduction_factor'), `${m} owns reduction_factor`);
      assert.ok(forbidden('lora').includes('reduction_factor'));
    }
  });

  it('a method added to the catalog appears without touching the generator', () => {
    const extra: MethodInfo = {
      name: 'my_method',
      title: 'My method',
      description: 'a method the generator has never heard of',
      merge: 'it is not weights',
      settings: [{ key: 'my_tokens', flag: 'my-tokens', type: 'integer', default: 20, min: 1, ask: true, description: 'How many tokens.' }],
    };
    const s = buildRunConfigSchema([...METHOD_INFOS, extra]);
    const p = s.properties as Props;
    assert.ok(((p.method!.anyOf as Props[])[0]!.enum as unknown as string[]).includes('my_method'));
    assert.equal(p.my_tokens!.type, 'integer');
    assert.match(String(p.my_tokens!.description), /^My method: /);
  });
});
