/**
 * "PEFT: New Run": method → model folder → dataset → evaluation data → the method's own settings (those it
 * marks `ask`) → learning rate, epochs, batch size, max length. What to ask comes from newRunPlan.ts
 * (vscode-free, built on the engine's method catalog); answers are remembered per method. The result is a
 * run config, saved as a `.peft.json` file in the workspace (so a run is reproducible and diffable) and started.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MethodSpec } from '../../engine/peft/types';
import { DISTILL_DEFAULTS } from '../../engine/distill/config';
import { methodInfo } from '../../protocol/method';
import {
  DISTILL_NUMBERS,
  distillNumberDefaults,
  distillNumberError,
  distillRunConfig,
  methodPicks,
  newRunConfig,
  settingAnswer,
  settingQuestions,
  studentLayerPicks,
  trainingDefaults,
  type DistillNumberKey,
  type MethodMemory,
  type SettingQuestion,
} from './newRunPlan';
import type { RunManager } from './core/runManager';
import { canTry } from './playground/runs';
import { findEvalBeside } from '../../engine/data/eval-beside';
import type { Settings } from './settings';

const LAST = 'peftStudio.lastNewRun';
const STEPS = 6;

interface LastChoices {
  method?: string;
  model?: string;
  trainFile?: string;
  evalFile?: string;
  /** Settings and training numbers last used with each method. */
  byMethod?: Record<string, MethodMemory>;
  /** The distillation numbers last used. */
  distill?: Partial<Record<DistillNumberKey, number>>;
}

const DISTIL = 'distil';

const title = (step: number, what: string) => `New PEFT run (${step}/${STEPS}): ${what}`;

export async function newRunFlow(context: vscode.ExtensionContext, settings: Settings, exampleDir: string, runs?: RunManager): Promise<Record<string, unknown> | undefined> {
  const last = context.globalState.get<LastChoices>(LAST) ?? {};
  const methodPick = await vscode.window.showQuickPick(
    [
      ...methodPicks(last.method).map((p) => ({ label: p.label, description: p.description, detail: p.detail, method: p.method })),
      { label: '', kind: vscode.QuickPickItemKind.Separator, method: '' },
      { label: '$(mortar-board) Distil a trained run', description: 'a smaller or cheaper student learns from a finished run', detail: 'teacher → student layers or model → student method → temperature and weights', method: DISTIL },
    ],
    { title: title(1, 'method'), placeHolder: 'How to fine-tune: which parameters train', matchOnDescription: true, ignoreFocusOut: true },
  );
  if (!methodPick) return undefined;
  if (methodPick.method === DISTIL) return distillFlow(context, settings, exampleDir, runs);
  const method = methodPick.method;
  const memory = last.byMethod?.[method] ?? {};

  const model = await pickModel(last.model);
  if (!model) return undefined;
  const trainFile = await pickFile('Training data (CSV, TSV, JSONL, Parquet)', last.trainFile, path.join(exampleDir, 'sentiment', 'train.tsv'));
  if (!trainFile) return undefined;
  const beside = findEvalBeside(trainFile);
  const evalChoice = await vscode.window.showQuickPick(
    [
      ...(beside ? [{ label: `$(file) ${path.basename(beside.file)}`, description: `the ${beside.split} split beside the training data`, id: 'beside' }] : []),
      { label: '$(split-horizontal) Hold out 10% of the training data', id: 'split' },
      { label: '$(file) Choose an evaluation file…', id: 'file' },
      ...(last.evalFile && fs.existsSync(last.evalFile) ? [{ label: `$(history) ${path.basename(last.evalFile)}`, description: last.evalFile, id: 'last' }] : []),
    ],
    { title: title(4, 'evaluation data'), ignoreFocusOut: true },
  );
  if (!evalChoice) return undefined;
  let evalFile: string | undefined;
  if (evalChoice.id === 'file') {
    evalFile = await pickFile('Evaluation data', undefined, undefined);
    if (!evalFile) return undefined;
  } else if (evalChoice.id === 'last') evalFile = last.evalFile;
  else if (evalChoice.id === 'beside') evalFile = beside!.file;

  const spec: MethodSpec = { name: method };
  for (const q of settingQuestions(method, memory.settings)) {
    const value = await askSetting(method, q);
    if (value === undefined) return undefined;
    spec[q.setting.key] = value;
  }

  const start = trainingDefaults(method, memory, settings.defaults);
  const info = methodInfo(method);
  const lr = await askNumber('Learning rate', start.learningRate, `${info?.title ?? method}: a typical learning rate is ${start.learningRate}`);
  if (lr === undefined) return undefined;
  const epochs = await askNumber('Epochs', start.epochs);
  if (epochs === undefined) return undefined;
  const batchSize = await askNumber('Batch size', start.batchSize, undefined, true);
  if (batchSize === undefined) return undefined;
  const maxLength = await askNumber('Max length (tokens)', start.maxLength, undefined, true);
  if (maxLength === undefined) return undefined;

  const training = { learningRate: lr, epochs, batchSize, maxLength };
  const { name: _name, ...asked } = spec;
  const choices: LastChoices = { method, model, trainFile, evalFile, byMethod: { ...last.byMethod, [method]: { settings: asked, ...training } } };
  await context.globalState.update(LAST, choices);
  return newRunConfig({ model, trainFile, evalFile, method: spec, training });
}

/** One of the method's settings; undefined when the user cancels. */
async function askSetting(method: string, q: SettingQuestion): Promise<unknown> {
  const s = q.setting;
  const what = title(5, `${methodInfo(method)?.title ?? method} · ${s.key}`);
  if (q.kind === 'input') {
    const text = await vscode.window.showInputBox({
      title: what,
      value: q.value,
      prompt: s.description,
      ignoreFocusOut: true,
      validateInput: (v) => {
        const r = settingAnswer(method, s, v);
        return 'error' in r ? r.error : undefined;
      },
    });
    if (text === undefined) return undefined;
    const r = settingAnswer(method, s, text);
    return 'value' in r ? r.value : undefined;
  }
  const items = q.items.map((i) => ({ label: i.value, picked: i.picked, description: JSON.stringify(s.default) === JSON.stringify(s.type === 'boolean' ? i.value === 'true' : i.value) ? 'default' : undefined }));
  if (q.kind === 'pickMany') {
    const picked = await vscode.window.showQuickPick(items, { title: what, placeHolder: s.description, canPickMany: true, ignoreFocusOut: true });
    if (!picked) return undefined;
    const r = settingAnswer(method, s, picked.map((p) => p.label));
    return 'value' in r ? r.value : undefined;
  }
  // A single pick: the current value first, so Enter keeps it.
  const ordered = [...items.filter((i) => i.picked), ...items.filter((i) => !i.picked)];
  const picked = await vscode.window.showQuickPick(ordered, { title: what, placeHolder: s.description, ignoreFocusOut: true });
  if (!picked) return undefined;
  const r = settingAnswer(method, s, picked.label);
  return 'value' in r ? r.value : undefined;
}

async function pickModel(last: string | undefined): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { id: string };
  const items: Item[] = [];
  if (last && fs.existsSync(path.join(last, 'config.json'))) items.push({ label: `$(history) ${path.basename(last)}`, description: last, id: last });
  for (const ws of vscode.workspace.workspaceFolders ?? []) {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(ws, '**/config.json'), '**/{node_modules,.git,.peft-studio}/**', 20);
    for (const f of found) {
      const dir = path.dirname(f.fsPath);
      if (dir !== last && (fs.existsSync(path.join(dir, 'model.safetensors')) || fs.existsSync(path.join(dir, 'model.safetensors.index.json')) || fs.existsSync(path.join(dir, 'pytorch_model.bin')))) {
        items.push({ label: `$(folder) ${path.basename(dir)}`, description: vscode.workspace.asRelativePath(dir), id: dir });
      }
    }
  }
  items.push({ label: '$(folder-opened) Browse for a model folder…', id: 'browse' });
  const pick = await vscode.window.showQuickPick(items, { title: title(2, 'model folder'), placeHolder: 'An HF model folder: config.json, model.safetensors, vocab.txt or tokenizer.json', ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.id !== 'browse') return pick.id;
  const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this model', title: 'HuggingFace model folder' });
  return uri?.[0]?.fsPath;
}

async function pickFile(label: string, last: string | undefined, example: string | undefined): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { id: string };
  const items: Item[] = [];
  if (last && fs.existsSync(last)) items.push({ label: `$(history) ${path.basename(last)}`, description: last, id: last });
  for (const ws of vscode.workspace.workspaceFolders ?? []) {
    const found = await vscode.workspace.findFiles(new vscode.RelativePattern(ws, '**/*.{csv,tsv,jsonl,parquet}'), '**/{node_modules,.git,.peft-studio}/**', 30);
    for (const f of found) if (f.fsPath !== last) items.push({ label: `$(file) ${path.basename(f.fsPath)}`, description: vscode.workspace.asRelativePath(f), id: f.fsPath });
  }
  if (example && fs.existsSync(example) && example !== last) items.push({ label: '$(beaker) Example: movie-review sentiment (2,000 rows)', description: 'bundled with PEFT Studio', id: example });
  items.push({ label: '$(folder-opened) Browse…', id: 'browse' });
  const pick = await vscode.window.showQuickPick(items, { title: `New PEFT run (3/${STEPS}): ${label}`, ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.id !== 'browse') return pick.id;
  const uri = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['csv', 'tsv', 'jsonl', 'parquet'] }, title: label });
  return uri?.[0]?.fsPath;
}

async function askNumber(what: string, value: number, prompt?: string, integer = false): Promise<number | undefined> {
  const s = await vscode.window.showInputBox({
    title: title(6, what),
    value: String(value),
    prompt,
    ignoreFocusOut: true,
    validateInput: (v) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) return 'a positive number';
      if (integer && !Number.isInteger(n)) return 'a whole number';
      return undefined;
    },
  });
  return s === undefined ? undefined : Number(s);
}

/** Writes the config next to the workspace's runs as `<name>.peft.json`, for reruns and diffs. */
export function saveRunConfig(dir: string, config: Record<string, unknown>): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = `${path.basename(String(config.train_file ?? 'run')).replace(/\.[^.]+$/, '')}-${Date.now().toString(36)}.peft.json`;
  const file = path.join(dir, name);
  const rel = (p: unknown) => (typeof p === 'string' && path.isAbsolute(p) ? path.relative(dir, p) || '.' : p);
  // No $schema: the extension maps *.peft.json to the schema itself (jsonValidation in package.json).
  const d = config.distill as Record<string, unknown> | undefined;
  const body = {
    ...config,
    ...(config.model ? { model: rel(config.model) } : {}),
    train_file: rel(config.train_file),
    ...(config.eval_file ? { eval_file: rel(config.eval_file) } : {}),
    ...(d ? { distill: { ...d, teacher: rel(d.teacher), ...(d.student ? { student: rel(d.student) } : {}) } } : {}),
  };
  fs.writeFileSync(file, JSON.stringify(body, null, 2) + '\n');
  return file;
}

// ── "Distil a trained run" ───────────────────────────────────────────────────

const dtitle = (what: string) => `Distil a trained run: ${what}`;

/** Layers of a model folder's encoder (BERT's num_hidden_layers, DistilBERT's n_layers); undefined when unreadable. */
function layersOfModel(dir: string): number | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const n = c.num_hidden_layers ?? c.n_layers;
    return typeof n === 'number' && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

interface TeacherPick {
  dir: string;
  label: string;
  layers?: number;
  trainFile?: string;
  evalFile?: string;
}

function teacherOfRun(runs: RunManager, runId: string): TeacherPick | undefined {
  const rec = runs.get(runId);
  if (!rec) return undefined;
  const c = (rec.view.started?.config ?? rec.config) as Record<string, unknown>;
  const abs = (p: unknown) => (typeof p === 'string' ? path.resolve(rec.baseDir ?? process.cwd(), p) : undefined);
  const model = abs(c.model);
  return { dir: rec.runDir, label: rec.view.label, layers: model ? layersOfModel(model) : undefined, trainFile: abs(c.train_file), evalFile: abs(c.eval_file) };
}

/**
 * "Distil a trained run": teacher (a finished run, or a fine-tuned model folder) → student (half the
 * teacher's layers by default, or a model folder) → the student's method and its asked settings →
 * temperature and loss weights → data → training numbers. `teacherRunId` starts from a Runs-tree run.
 */
export async function distillFlow(context: vscode.ExtensionContext, settings: Settings, exampleDir: string, runs?: RunManager, teacherRunId?: string): Promise<Record<string, unknown> | undefined> {
  const last = context.globalState.get<LastChoices>(LAST) ?? {};
  let teacher = runs && teacherRunId ? teacherOfRun(runs, teacherRunId) : undefined;
  if (!teacher) {
    type Item = vscode.QuickPickItem & { runId?: string; browse?: boolean };
    const items: Item[] = (runs?.list().filter((r) => r.view.status === 'finished' && canTry(r)) ?? []).map((r) => ({ label: `$(pass) ${r.view.label}`, description: r.runId, runId: r.runId }));
    items.push({ label: '$(folder-opened) A fine-tuned model folder…', browse: true });
    const pick = await vscode.window.showQuickPick(items, { title: dtitle('teacher'), placeHolder: 'The model the student learns from: a finished run or an HF fine-tuned model folder', ignoreFocusOut: true });
    if (!pick) return undefined;
    if (pick.runId && runs) teacher = teacherOfRun(runs, pick.runId);
    else {
      const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use as teacher', title: 'Fine-tuned model folder (config.json with its labels, model.safetensors)' });
      const dir = uri?.[0]?.fsPath;
      if (!dir) return undefined;
      teacher = { dir, label: path.basename(dir), layers: layersOfModel(dir) };
    }
  }
  if (!teacher) return undefined;

  type StudentItem = vscode.QuickPickItem & { layers?: number; browse?: boolean };
  const studentItems: StudentItem[] = [
    ...(teacher.layers ? studentLayerPicks(teacher.layers).map((p) => ({ label: `$(layers) ${p.label}`, description: p.isDefault ? 'default: half, every other layer (DistilBERT)' : undefined, layers: p.layers })) : []),
    { label: '$(folder-opened) A student model folder…', description: 'a smaller BERT or a DistilBERT with the same tokenizer', browse: true },
  ];
  const studentPick = await vscode.window.showQuickPick(studentItems, { title: dtitle(`student (teacher: ${teacher.label})`), ignoreFocusOut: true });
  if (!studentPick) return undefined;
  let student: { layers: number } | { model: string };
  if (studentPick.layers) student = { layers: studentPick.layers };
  else {
    const uri = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use as student', title: 'Student model folder' });
    if (!uri?.[0]) return undefined;
    student = { model: uri[0].fsPath };
  }

  const methodPick = await vscode.window.showQuickPick(
    methodPicks(last.byMethod?.full ? 'full' : last.method).map((p) => ({ label: p.label, description: p.description, detail: p.detail, method: p.method })),
    { title: dtitle("the student's method"), placeHolder: 'How the student trains (full fine-tuning is DistilBERT\'s recipe)', ignoreFocusOut: true },
  );
  if (!methodPick) return undefined;
  const method = methodPick.method;
  const memory = last.byMethod?.[method] ?? {};
  const spec: MethodSpec = { name: method };
  for (const q of settingQuestions(method, memory.settings)) {
    const value = await askSetting(method, q);
    if (value === undefined) return undefined;
    spec[q.setting.key] = value;
  }

  const start = distillNumberDefaults(DISTILL_DEFAULTS, last.distill);
  const numbers = { ...start };
  for (const n of DISTILL_NUMBERS) {
    const text = await vscode.window.showInputBox({ title: dtitle(n.label), value: String(start[n.key]), prompt: n.prompt, ignoreFocusOut: true, validateInput: (v) => distillNumberError(n.key, v) });
    if (text === undefined) return undefined;
    numbers[n.key] = Number(text);
  }

  const trainFile = await pickFile('Training data (the teacher’s own data is a good start)', teacher.trainFile ?? last.trainFile, path.join(exampleDir, 'sentiment', 'train.tsv'));
  if (!trainFile) return undefined;
  const evalFile = teacher.evalFile && fs.existsSync(teacher.evalFile) ? teacher.evalFile : undefined;

  const t0 = trainingDefaults(method, memory, settings.defaults);
  const lr = await askNumber('Learning rate', t0.learningRate, `${methodInfo(method)?.title ?? method}: a typical learning rate is ${t0.learningRate}`);
  if (lr === undefined) return undefined;
  const epochs = await askNumber('Epochs', t0.epochs);
  if (epochs === undefined) return undefined;
  const batchSize = await askNumber('Batch size', t0.batchSize, undefined, true);
  if (batchSize === undefined) return undefined;
  const maxLength = await askNumber('Max length (tokens)', t0.maxLength, undefined, true);
  if (maxLength === undefined) return undefined;
  await context.globalState.update(LAST, { ...last, distill: numbers });
  return distillRunConfig({ teacher: teacher.dir, teacherLabel: teacher.label, student, studentMethod: spec, numbers, trainFile, evalFile, training: { learningRate: lr, epochs, batchSize, maxLength } });
}
