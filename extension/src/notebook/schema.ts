/**
 * Run-config checks for notebook cells, driven by schemas/run-config.schema.json (the file VS Code already
 * uses for *.peft.json, generated from the engine's method catalog). The engine's resolveRunConfig cannot be
 * imported here: engine/train/config.ts pulls in backend/select.ts and with it TF.js, which must stay out of
 * the extension host bundle. Reading the JSON schema keeps one statement of the rules instead of a
 * hand-written copy; the worker still runs resolveRunConfig and reports anything this misses as a failed run.
 *
 * Only the schema features the file uses are interpreted: type, enum, const, anyOf/oneOf/allOf/not,
 * if/then, $ref to #/definitions, boolean schemas, minimum/maximum (exclusive or not), minItems, items,
 * properties/required/additionalProperties: false.
 */
import { flatKey, methodInfo, methodInfos, methodOfConfig, methodTitle } from '../../../protocol/method';
import schemaJson from '../../../schemas/run-config.schema.json';

interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  not?: Schema;
  if?: Schema;
  then?: Schema;
  $ref?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean;
  default?: unknown;
  description?: string;
}
type Schema = PropSchema | boolean;

const schema = schemaJson as unknown as { required: string[]; properties: Record<string, PropSchema>; definitions: Record<string, PropSchema> };

/** Keys a notebook cell may not set: the host owns where a run goes. */
export const HOST_KEYS = new Set(['output_dir', '$schema']);

/** Top-level keys that set a method's setting (`lora_r`, `bias_terms`) → the methods that have it. */
const METHOD_KEYS = new Map<string, string[]>();
for (const m of methodInfos()) for (const s of m.settings) METHOD_KEYS.set(flatKey(s), [...(METHOD_KEYS.get(flatKey(s)) ?? []), m.name]);

export function isMethodSettingKey(key: string): boolean {
  return METHOD_KEYS.has(key);
}

export interface ConfigIssue {
  /** Top-level key the issue is about; undefined for the config as a whole. */
  key?: string;
  message: string;
}

export interface ConfigKey {
  key: string;
  description: string;
  values: string[];
  default?: unknown;
  /** The methods whose setting this key is; absent for general keys. */
  methods?: string[];
}

/** Every key a cell may set; with `method`, only that method's setting keys among the method-specific ones. */
export function configKeys(methodName?: string | null): ConfigKey[] {
  const method = methodName ? (methodInfo(methodName)?.name ?? methodName) : methodName;
  return Object.entries(schema.properties)
    .filter(([k]) => !HOST_KEYS.has(k))
    .filter(([k]) => method === undefined || !METHOD_KEYS.has(k) || (method !== null && METHOD_KEYS.get(k)!.includes(method)))
    .map(([key, p]) => ({ key, description: p.description ?? '', values: valuesOf(p), default: p.default, ...(METHOD_KEYS.has(key) ? { methods: METHOD_KEYS.get(key)! } : {}) }));
}

/** Suggested values for a key: its enum, or true/false for booleans. */
function valuesOf(p: Schema): string[] {
  if (typeof p === 'boolean') return [];
  if (p.enum) return p.enum.map(String);
  if (p.const !== undefined) return [String(p.const)];
  const branches = p.oneOf ?? p.anyOf;
  if (branches) return branches.flatMap(valuesOf);
  if (p.type === 'boolean') return ['true', 'false'];
  return [];
}

export function describeKey(key: string): PropSchema | undefined {
  return schema.properties[key];
}

/**
 * Fills schema defaults in (for comparisons: an absent learning_rate and an explicit 1e-3 are the same run).
 * A method's own settings are left to `methodOfConfig` / `withSettingDefaults`: their defaults depend on the method.
 */
export function withDefaults(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(schema.properties)) if (p.default !== undefined && !HOST_KEYS.has(k) && !METHOD_KEYS.has(k)) out[k] = p.default;
  return { ...out, ...config };
}

/** True when `value` equals the key's schema default (re-run cells leave those out to stay short). */
export function isDefault(key: string, value: unknown): boolean {
  const d = schema.properties[key]?.default;
  return d !== undefined && JSON.stringify(d) === JSON.stringify(value);
}

export function validateConfig(config: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  // A distillation needs no `model`: its student is the teacher's own layers or `distill.student` (engine/train/config.ts).
  const m = config.method as { name?: unknown } | string | undefined;
  const distilling = config.distill !== undefined || m === 'distill' || (typeof m === 'object' && m !== null && m.name === 'distill');
  for (const key of schema.required) if (config[key] === undefined && !(distilling && key === 'model')) issues.push({ message: `"${key}" is required (set it here or in a cell this one extends)` });
  // The method a top-level setting key is checked against: the config's, else the adapter's (unknown here), else the default.
  const given = config.method !== undefined || config.adapter === undefined ? methodOfConfig(config).name : undefined;
  // Aliases (AdapterHub's `seq_bn` for pfeiffer) own the same keys as the method they name.
  const method = given === undefined ? undefined : (methodInfo(given)?.name ?? given);
  for (const [key, value] of Object.entries(config)) {
    if (HOST_KEYS.has(key)) {
      issues.push({ key, message: `${key} is set by PEFT Studio for notebook runs` });
      continue;
    }
    const p = schema.properties[key];
    if (!p) {
      const near = nearest(key, Object.keys(schema.properties));
      issues.push({ key, message: `unknown setting "${key}"${near ? ` (did you mean "${near}"?)` : ''}` });
      continue;
    }
    const owners = METHOD_KEYS.get(key);
    if (owners && method !== undefined && methodInfo(method) && !owners.includes(method)) {
      issues.push({ key, message: `${key} is a setting of ${owners.map(methodTitle).join(', ')}, not of ${methodTitle(method)} (method: ${method}${config.method === undefined ? ', the default' : ''})` });
      continue;
    }
    const problem = check(p, value);
    if (problem) issues.push({ key, message: `${key}${problem.path} ${problem.message}` });
  }
  return issues;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

interface Problem {
  /** Where inside the value (`.r`, `[2]`), empty for the value itself. */
  path: string;
  message: string;
}

function resolve(s: Schema): Schema {
  if (typeof s !== 'boolean' && s.$ref) {
    const name = /^#\/definitions\/(.+)$/.exec(s.$ref)?.[1];
    const target = name ? schema.definitions[name] : undefined;
    if (!target) throw new Error(`run-config schema: unresolved ${s.$ref}`);
    return target;
  }
  return s;
}

/** Which JSON types a schema can accept at its top (for picking the branch of a union that a value meant). */
function typesOf(s: Schema): string[] | undefined {
  s = resolve(s);
  if (typeof s === 'boolean') return undefined;
  if (s.type) return Array.isArray(s.type) ? s.type : [s.type];
  if (s.const !== undefined) return [typeOf(s.const)];
  if (s.enum) return [...new Set(s.enum.map(typeOf))];
  const branches = s.anyOf ?? s.oneOf;
  if (branches) {
    const all = branches.map(typesOf);
    return all.some((t) => t === undefined) ? undefined : [...new Set(all.flat() as string[])];
  }
  return undefined;
}

function accepts(types: string[] | undefined, v: unknown): boolean {
  const t = typeOf(v);
  return types === undefined || types.includes(t) || (t === 'integer' && types.includes('number'));
}

function check(s: Schema, v: unknown): Problem | undefined {
  s = resolve(s);
  if (s === true) return undefined;
  if (s === false) return { path: '', message: 'is not allowed here' };
  const p = s;
  const branches = p.oneOf ?? p.anyOf;
  if (branches) {
    // One branch accepting the value is enough (the file's unions do not overlap, so oneOf = anyOf here).
    const problems = branches.map((b) => check(b, v));
    if (problems.includes(undefined)) return undefined;
    // The one branch of the value's own type says best what is wrong (method: { name: lora, r: 0 }).
    const meant = branches.map((b, i) => [b, problems[i]!] as const).filter(([b]) => accepts(typesOf(b), v));
    if (meant.length === 1) return meant[0]![1];
    return { path: '', message: `must be ${branches.map(describeBranch).join(' or ')}, got ${JSON.stringify(v)}` };
  }
  if (p.allOf) for (const sub of p.allOf) {
    const problem = check(sub, v);
    if (problem) return problem;
  }
  if (p.if !== undefined && check(p.if, v) === undefined && p.then !== undefined) {
    const problem = check(p.then, v);
    if (problem) return problem;
  }
  if (p.not !== undefined && check(p.not, v) === undefined) return { path: '', message: 'is not allowed here' };
  if (p.const !== undefined && v !== p.const) return { path: '', message: `must be ${JSON.stringify(p.const)}, got ${JSON.stringify(v)}` };
  if (p.enum && !p.enum.some((e) => e === v)) return { path: '', message: `must be one of ${p.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}` };
  if (p.type) {
    const allowed = Array.isArray(p.type) ? p.type : [p.type];
    if (!accepts(allowed, v)) {
      const t = typeOf(v);
      return { path: '', message: `must be ${allowed.join(' or ')}, got ${t === 'integer' ? 'number' : t} ${JSON.stringify(v)}` };
    }
  }
  if (typeof v === 'number') {
    if (p.minimum !== undefined && v < p.minimum) return { path: '', message: `must be ≥ ${p.minimum}, got ${v}` };
    if (p.exclusiveMinimum !== undefined && v <= p.exclusiveMinimum) return { path: '', message: `must be > ${p.exclusiveMinimum}, got ${v}` };
    if (p.maximum !== undefined && v > p.maximum) return { path: '', message: `must be ≤ ${p.maximum}, got ${v}` };
    if (p.exclusiveMaximum !== undefined && v >= p.exclusiveMaximum) return { path: '', message: `must be < ${p.exclusiveMaximum}, got ${v}` };
  }
  if (Array.isArray(v)) {
    if (p.minItems !== undefined && v.length < p.minItems) return { path: '', message: `needs at least ${p.minItems} item(s)` };
    if (p.items !== undefined)
      for (let i = 0; i < v.length; i++) {
        const problem = check(p.items, v[i]);
        if (problem) {
          const items = resolve(p.items);
          const t = typeof items !== 'boolean' && typeof items.type === 'string' ? items.type : undefined;
          return t && !accepts([t], v[i]) ? { path: '', message: `items must be ${t}s` } : { path: `[${i}]${problem.path}`, message: problem.message };
        }
      }
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const r of p.required ?? []) if (o[r] === undefined) return { path: '', message: `needs "${r}"` };
    for (const [k, x] of Object.entries(o)) {
      const sub = p.properties?.[k];
      if (sub === undefined) {
        if (p.additionalProperties === false) {
          const known = Object.keys(p.properties ?? {}).filter((n) => p.properties![n] !== false);
          return { path: '', message: `has no setting "${k}" (its settings: ${known.join(', ')})` };
        }
        continue;
      }
      const problem = check(sub, x);
      if (problem) return { path: `.${k}${problem.path}`, message: problem.message };
    }
  }
  return undefined;
}

function describeBranch(b: Schema): string {
  b = resolve(b);
  if (typeof b === 'boolean') return b ? 'anything' : 'nothing';
  if (b.const !== undefined) return JSON.stringify(b.const);
  if (b.enum) return `one of ${b.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  const t = Array.isArray(b.type) ? b.type.join(' or ') : (b.type ?? 'a value');
  return b.minimum !== undefined ? `${t} ≥ ${b.minimum}` : t;
}

/** The closest known key within edit distance 3, for typo hints. */
function nearest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = 4;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
