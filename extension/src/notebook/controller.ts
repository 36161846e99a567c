/**
 * The notebook kernel: executing a run cell starts a training run through the extension's RunManager (the
 * same queue, worker and run folders as "New Run"), and the cell's output follows the run live. Cells of
 * one "Run All" train one after another; interrupting a cell stops its run (the worker checkpoints and
 * writes a 'stopped' event). A compare cell is computed from the other cells' outputs, without training.
 * A study cell runs the study through the bundled CLI (core/studyProcess.ts) into
 * `<runs folder>/studies/<name>/`; interrupting it stops the study, running it again resumes it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import YAML from 'yaml';
import type { RunManager } from '../core/runManager';
import { StudyProcess, type StudyTracker } from '../core/studyProcess';
import { STUDY_MIME, type StudyOutput } from '../../../protocol/study';
import { studyFolderName, validateStudyCell, type StudyCellConfig } from './study-cell';
import { buildComparison } from './compare';
import { newCellId } from './format';
import { baseDirOf, cellIdOf, codeCells, resolveNotebookCell } from './notebookCells';
import { writeOrigin } from './origin';
import { COMPARE_MIME, RUN_MIME, summarizeRun, type RunOutput } from '../../../protocol/notebook-output';
import { validateConfig } from './schema';
import { CELL_ID, NOTEBOOK_TYPE } from './serializer';

export const CONTROLLER_ID = 'peft-studio.kernel';

/** What a study cell needs to run: where the CLI is, where studies go, the backend, who follows them. */
export interface StudyDeps {
  distDir: string;
  runsFolder(): string;
  backend(): string;
  tracker: StudyTracker;
}
/** Live outputs are re-sent at most this often: the renderer redraws per update, and 4 Hz reads as live. */
const OUTPUT_THROTTLE_MS = 250;

export class PeftKernel implements vscode.Disposable {
  readonly controller: vscode.NotebookController;
  private order = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly runs: RunManager,
    private readonly log: vscode.LogOutputChannel,
    private readonly studies?: StudyDeps,
  ) {
    this.controller = vscode.notebooks.createNotebookController(CONTROLLER_ID, NOTEBOOK_TYPE, 'PEFT Studio');
    this.controller.supportedLanguages = ['yaml', 'json'];
    this.controller.supportsExecutionOrder = true;
    this.controller.description = 'trains each cell as a PEFT run';
    this.controller.executeHandler = (cells, nb) => this.execute(cells, nb);
    // The only kernel for this notebook type: preferred, so running a cell never stops at "Select Kernel".
    const prefer = (nb: vscode.NotebookDocument) => nb.notebookType === NOTEBOOK_TYPE && this.controller.updateNotebookAffinity(nb, vscode.NotebookControllerAffinity.Preferred);
    vscode.workspace.notebookDocuments.forEach(prefer);
    this.disposables.push(vscode.workspace.onDidOpenNotebookDocument(prefer));
  }

  dispose(): void {
    this.controller.dispose();
    this.disposables.forEach((d) => d.dispose());
  }

  private async execute(cells: vscode.NotebookCell[], nb: vscode.NotebookDocument): Promise<void> {
    // Executions exist up front so queued cells show as pending; each starts when the one before ends.
    const execs: vscode.NotebookCellExecution[] = [];
    for (const cell of cells) {
      try {
        execs.push(this.controller.createNotebookCellExecution(cell));
      } catch (e) {
        this.log.warn(`notebook: cell ${cell.index + 1} is already executing (${(e as Error).message})`);
      }
    }
    for (const exec of execs) {
      if (exec.token.isCancellationRequested) {
        exec.start();
        exec.end(undefined);
        continue;
      }
      try {
        await this.executeCell(exec, nb);
      } catch (e) {
        await exec.replaceOutput(errorOutput((e as Error).message));
        exec.end(false, Date.now());
      }
    }
  }

  private async executeCell(exec: vscode.NotebookCellExecution, nb: vscode.NotebookDocument): Promise<void> {
    const cell = exec.cell;
    exec.executionOrder = ++this.order;
    exec.start(Date.now());
    await exec.clearOutput();
    const cc = codeCells(nb);
    const parsed = cc.parsed[cc.cells.indexOf(cell)];
    if (!parsed || parsed.kind === 'empty') return exec.end(true, Date.now());
    if (parsed.kind === 'compare') return this.compare(exec, nb, parsed.compare);
    if (parsed.kind === 'study') {
      const problems = [...parsed.problems.map((p) => p.message), ...(parsed.problems.length ? [] : validateStudyCell(parsed.study).map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)))];
      if (problems.length) return this.fail(exec, `This study has problems:\n${problems.map((m) => `  • ${m}`).join('\n')}`);
      if (!vscode.workspace.isTrusted) return this.fail(exec, 'Training from notebook cells is disabled until you trust this workspace.');
      return this.study(exec, nb, parsed.study as StudyCellConfig);
    }

    const resolved = resolveNotebookCell(cc, cell);
    const issues = resolved.ok ? validateConfig(resolved.config).map((i) => i.message) : [resolved.error];
    if (issues.length) return this.fail(exec, `This cell's run config has problems:\n${issues.map((m) => `  • ${m}`).join('\n')}`);
    if (!vscode.workspace.isTrusted) return this.fail(exec, 'Training from notebook cells is disabled until you trust this workspace.');
    const config = (resolved as { config: Record<string, unknown> }).config;

    const cellId = await ensureCellId(cell);
    const index = cell.index;
    const label = typeof config.run_name === 'string' ? config.run_name : `${path.basename(nb.uri.path)} · cell ${index + 1}`;
    const runId = this.runs.enqueue(config, label, baseDirOf(nb));
    const rec = this.runs.get(runId)!;
    try {
      writeOrigin(rec.runDir, { v: 1, notebook: nb.uri.scheme === 'file' ? nb.uri.fsPath : nb.uri.toString(), cellId, cellIndex: index });
    } catch (e) {
      this.log.warn(`notebook: could not write origin.json for ${runId}: ${(e as Error).message}`);
    }
    this.log.info(`notebook ${path.basename(nb.uri.path)} cell ${index + 1} (${cellId}) → run ${runId}`);
    await this.follow(exec, runId, config);
  }

  /** Mirrors the run into the cell's output until it ends; resolves then. Cancelling the cell stops the run. */
  private follow(exec: vscode.NotebookCellExecution, runId: string, config: Record<string, unknown>): Promise<void> {
    return new Promise<void>((resolve) => {
      let lastStepTime: number | undefined;
      let timer: NodeJS.Timeout | undefined;
      let chain: Thenable<void> = Promise.resolve();
      const summary = (): RunOutput | undefined => {
        const rec = this.runs.get(runId);
        return rec && summarizeRun(rec.view, config, lastStepTime);
      };
      const output = new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.json(summary(), RUN_MIME)]);
      chain = exec.replaceOutput([output]);
      const push = () => {
        timer = undefined;
        const s = summary();
        // Updates are chained so they arrive in order; replaceOutputItems keeps the output (and the renderer's
        // chart) in place rather than building a new one per update.
        if (!s) return;
        chain = chain
          .then(() => exec.replaceOutputItems([vscode.NotebookCellOutputItem.json(s, RUN_MIME)], output))
          .then(undefined, (e: Error) => this.log.warn(`notebook: output update for ${runId} failed: ${e.message}`));
      };
      const sub = this.runs.onDidChange((c) => {
        if (c.runId !== runId) return;
        if (c.kind === 'events') {
          for (const e of c.events) if (e.type === 'step') lastStepTime = e.time;
          timer ??= setTimeout(push, OUTPUT_THROTTLE_MS);
          return;
        }
        end(c.kind === 'status' ? c.status : c.kind === 'removed' ? 'stopped' : undefined);
      });
      const cancel = exec.token.onCancellationRequested(() => {
        if (!this.runs.control(runId, 'stop')) this.log.warn(`notebook: run ${runId} could not be stopped (no worker)`);
      });
      let ended = false;
      const end = (status: string | undefined) => {
        if (ended || (status !== 'finished' && status !== 'stopped' && status !== 'failed')) return;
        ended = true;
        sub.dispose();
        cancel.dispose();
        clearTimeout(timer);
        push();
        void chain.then(() => {
          exec.end(status === 'finished', Date.now());
          resolve();
        });
      };
      // A worker that could not even start fails the run inside enqueue, before this subscription existed.
      end(this.runs.get(runId)?.view.status);
    });
  }

  /** Runs the cell's study (resuming what an earlier run of it finished) and shows its progress, then its report. */
  private async study(exec: vscode.NotebookCellExecution, nb: vscode.NotebookDocument, study: StudyCellConfig): Promise<void> {
    if (!this.studies) return this.fail(exec, 'Studies are not available in this window.');
    const deps = this.studies;
    const cellId = await ensureCellId(exec.cell);
    const dir = path.join(deps.runsFolder(), 'studies', studyFolderName(study.name, path.basename(nb.uri.path), cellId));
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'study.yaml');
    // The cell's study, as a study file: `peft-studio study` runs it, its relative paths resolved from the notebook.
    fs.writeFileSync(file, `# written from ${path.basename(nb.uri.path)}, cell ${cellId}\n${YAML.stringify(study)}`);
    this.log.info(`notebook ${path.basename(nb.uri.path)} cell ${exec.cell.index + 1} (${cellId}) → study ${dir}`);
    let timer: NodeJS.Timeout | undefined;
    let chain: Thenable<void> = Promise.resolve();
    let output: vscode.NotebookCellOutput | undefined;
    const show = (o: StudyOutput) => {
      const item = vscode.NotebookCellOutputItem.json(o, STUDY_MIME);
      chain = chain
        .then(() => (output ? exec.replaceOutputItems([item], output) : exec.replaceOutput([(output = new vscode.NotebookCellOutput([item]))])))
        .then(undefined, (e: Error) => this.log.warn(`notebook: study output update failed: ${e.message}`));
    };
    const proc = new StudyProcess({ distDir: deps.distDir, backend: deps.backend(), file, baseDir: baseDirOf(nb), outDir: dir, name: study.name ?? path.basename(dir), log: (l) => this.log.info(`[study ${path.basename(dir)}] ${l}`) }, (o) => {
      deps.tracker.set(o);
      timer ??= setTimeout(() => {
        timer = undefined;
        show(proc.output);
      }, OUTPUT_THROTTLE_MS);
    });
    deps.tracker.set(proc.output);
    show(proc.output);
    const cancel = exec.token.onCancellationRequested(() => proc.stop());
    const final = await proc.done;
    cancel.dispose();
    clearTimeout(timer);
    show(final);
    await chain;
    exec.end(final.status === 'finished', Date.now());
  }

  private async compare(exec: vscode.NotebookCellExecution, nb: vscode.NotebookDocument, which: 'all' | string[] | undefined): Promise<void> {
    const withRuns = nb
      .getCells()
      .filter((c) => c.kind === vscode.NotebookCellKind.Code && c !== exec.cell)
      .map((c) => ({ cell: c, output: runOutputOf(c) }))
      .filter((x): x is { cell: vscode.NotebookCell; output: RunOutput } => x.output !== undefined);
    const picked = which === 'all' || which === undefined ? withRuns : which.map((id) => withRuns.find((x) => cellIdOf(x.cell) === id)).filter((x) => x !== undefined);
    if (picked.length < 2) return this.fail(exec, `Nothing to compare: ${picked.length} of the listed cells ha${picked.length === 1 ? 's' : 've'} a run output. Run at least two cells first.`);
    const data = buildComparison(picked.map((x) => ({ cellId: cellIdOf(x.cell) ?? String(x.cell.index), output: x.output })));
    await exec.replaceOutput([new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.json(data, COMPARE_MIME)])]);
    exec.end(true, Date.now());
  }

  private async fail(exec: vscode.NotebookCellExecution, message: string): Promise<void> {
    await exec.replaceOutput(errorOutput(message));
    exec.end(false, Date.now());
  }
}

function errorOutput(message: string): vscode.NotebookCellOutput[] {
  // A plain text error rather than an Error object: VS Code would show a stack trace of the host.
  return [new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stderr(message)])];
}

/** The run summary in a cell's outputs, if any (parsed from the output item's bytes). */
export function runOutputOf(cell: vscode.NotebookCell): RunOutput | undefined {
  for (const o of cell.outputs) {
    for (const item of o.items) {
      if (item.mime !== RUN_MIME) continue;
      try {
        const v = JSON.parse(new TextDecoder().decode(item.data)) as RunOutput;
        if (v && v.kind === 'run' && Array.isArray(v.loss?.step) && typeof v.config === 'object') return v;
      } catch {
        // not ours after all
      }
    }
  }
  return undefined;
}

/** Gives a cell a stable id (in its metadata, saved in the file) the first time it is run or compared. */
export async function ensureCellId(cell: vscode.NotebookCell): Promise<string> {
  const existing = cellIdOf(cell);
  if (existing) return existing;
  const taken = new Set(cell.notebook.getCells().map(cellIdOf).filter((x): x is string => !!x));
  const id = newCellId(taken);
  const edit = new vscode.WorkspaceEdit();
  edit.set(cell.notebook.uri, [vscode.NotebookEdit.updateCellMetadata(cell.index, { ...cell.metadata, [CELL_ID]: id })]);
  await vscode.workspace.applyEdit(edit);
  return id;
}
