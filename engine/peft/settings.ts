/**
 * A method's settings are declared once (`MethodInfo.settings`) and everything else is derived from that
 * list: validation with errors that name the key, defaults, CLI flags (`--lora-r`), the run-config JSON
 * schema (completion in `*.peft.json` and notebook cells) and New Run's questions.
 */
import { PeftStudioError } from '../errors';
import type { MethodInfo, MethodSpec, SettingSpec } from './types';

/** Validates `raw` against the method's settings and fills defaults. Unknown keys are errors. */
export function parseSettings(info: MethodInfo, raw: MethodSpec): MethodSpec {
  const known = new Map(info.settings.map((s) => [s.key, s]));
  const unknown = Object.keys(raw).filter((k) => k !== 'name' && !known.has(k) && raw[k] !== undefined);
  if (unknown.length) {
    const names = info.settings.map((s) => s.key).join(', ') || 'none';
    throw new PeftStudioError('BAD_INPUT', `method ${info.name}: unknown setting(s) ${unknown.join(', ')} (its settings: ${names})`);
  }
  const out: MethodSpec = { name: info.name };
  for (const s of info.settings) out[s.key] = checkSetting(info.name, s, raw[s.key] === undefined ? s.default : raw[s.key]);
  return out;
}

function checkSetting(method: string, s: SettingSpec, v: unknown): unknown {
  const where = `method ${method}: ${s.key}`;
  const bad = (what: string): never => {
    throw new PeftStudioError('BAD_INPUT', `${where} must be ${what}, got ${JSON.stringify(v)}`);
  };
  if (v === null && s.default === null) return null;
  switch (s.type) {
    case 'integer':
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) bad(s.type === 'integer' ? 'an integer' : 'a number');
      const n = v as number;
      if (s.type === 'integer' && !Number.isInteger(n)) bad('an integer');
      if (s.min !== undefined && (s.exclusiveMin ? !(n > s.min) : !(n >= s.min))) bad(`${s.exclusiveMin ? '>' : '≥'} ${s.min}`);
      if (s.max !== undefined && (s.exclusiveMax ? !(n < s.max) : !(n <= s.max))) bad(`${s.exclusiveMax ? '<' : '≤'} ${s.max}`);
      return n;
    }
    case 'boolean':
      if (typeof v !== 'boolean') bad('true or false');
      return v;
    case 'string':
      if (typeof v !== 'string') bad('a string');
      return v;
    case 'enum':
      if (typeof v !== 'string' || !s.values!.includes(v)) bad(`one of ${s.values!.join(', ')}`);
      return v;
    case 'list': {
      if (typeof v === 'string' && s.words?.includes(v)) return v;
      const list = typeof v === 'string' ? v.split(',').map((x) => x.trim()).filter(Boolean) : v;
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' && typeof x !== 'number')) bad(`a list${s.words ? ` or ${s.words.join(' / ')}` : ''}`);
      const items = (list as unknown[]).map((x) => (typeof x === 'number' ? x : String(x)));
      if (s.values) for (const x of items) if (!s.values.includes(String(x))) bad(`a list of ${s.values.join(', ')}`);
      return items;
    }
  }
}

/** A CLI flag's string value as the setting's type (lists: comma-separated). */
export function settingFromFlag(s: SettingSpec, value: string | boolean): unknown {
  if (typeof value === 'boolean') return value;
  switch (s.type) {
    case 'integer':
    case 'number': {
      const n = Number(value);
      return value.trim() === '' || !Number.isFinite(n) ? value : n;
    }
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'list':
      if (s.words?.includes(value)) return value;
      return value
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => (/^-?\d+$/.test(x) && isLayerList(s) ? Number(x) : x));
    default:
      return value;
  }
}

/** JSON-schema fragment for one setting. */
export function settingSchema(s: SettingSpec): Record<string, unknown> {
  const base: Record<string, unknown> = { description: s.description };
  if (s.default !== undefined && s.default !== null) base.default = s.default;
  switch (s.type) {
    case 'integer':
    case 'number':
      return {
        ...base,
        type: s.type,
        ...(s.min !== undefined ? (s.exclusiveMin ? { exclusiveMinimum: s.min } : { minimum: s.min }) : {}),
        ...(s.max !== undefined ? (s.exclusiveMax ? { exclusiveMaximum: s.max } : { maximum: s.max }) : {}),
      };
    case 'boolean':
      return { ...base, type: 'boolean' };
    case 'string':
      return { ...base, type: s.default === null ? ['string', 'null'] : 'string' };
    case 'enum':
      return { ...base, enum: [...s.values!] };
    case 'list': {
      const item = s.values ? { enum: [...s.values] } : { type: isLayerList(s) ? 'integer' : 'string' };
      const list = { type: 'array', items: item };
      return s.words ? { ...base, anyOf: [list, { enum: [...s.words] }] } : { ...base, ...list };
    }
  }
}

/** A list of layer indices (LoRA's layers_to_transform, AdapterHub's leave_out): integers on the CLI and in the schema. */
function isLayerList(s: SettingSpec): boolean {
  return s.key.includes('layers') || s.key === 'leave_out';
}
