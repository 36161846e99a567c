/** The Runs tree: a thin mapping of run-manager state to TreeItems, grouped by status. */
import * as vscode from 'vscode';
import type { RunManager, RunRecord } from './core/runManager';
import { describeOrigin, readOrigin, type RunOrigin } from './notebook/origin';
import { methodOfConfig, methodSettingsList, runMethodLabel } from '../../protocol/method';
import type { RunStatus } from '../../protocol/webview';

type Group = 'Active' | 'Finished' | 'Stopped or failed';
const GROUP_OF: Record<RunStatus, Group> = { queued: 'Active', running: 'Active', paused: 'Active', finished: 'Finished', stopped: 'Stopped or failed', failed: 'Stopped or failed' };
const ICON: Record<RunStatus, string> = { queued: 'clock', running: 'sync~spin', paused: 'debug-pause', finished: 'pass', stopped: 'debug-stop', failed: 'error' };

export type RunsNode = { kind: 'group'; group: Group } | { kind: 'run'; runId: string };

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode> {
  private readonly changed = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly runs: RunManager) {
    // Steps arrive many times a second; the tree refreshes at most twice a second.
    runs.onDidChange(() => {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.changed.fire(undefined);
      }, 500);
    });
  }

  /**
   * Notebook runs carry an origin.json; read once per run. A run without one is asked again only while it
   * is queued (the notebook writes the file just after queueing it).
   */
  private readonly origins = new Map<string, RunOrigin | null>();
  private originOf(rec: RunRecord): RunOrigin | undefined {
    let o = this.origins.get(rec.runId);
    if (o === undefined || (o === null && rec.view.status === 'queued')) {
      o = readOrigin(rec.runDir) ?? null;
      this.origins.set(rec.runId, o);
    }
    return o ?? undefined;
  }

  getChildren(node?: RunsNode): RunsNode[] {
    if (!node) {
      const present = new Set(this.runs.list().map((r) => GROUP_OF[r.view.status]));
      return (['Active', 'Finished', 'Stopped or failed'] as Group[]).filter((g) => present.has(g)).map((group) => ({ kind: 'group', group }));
    }
    if (node.kind === 'group') return this.runs.list().filter((r) => GROUP_OF[r.view.status] === node.group).map((r) => ({ kind: 'run', runId: r.runId }));
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'group') return new vscode.TreeItem(node.group, vscode.TreeItemCollapsibleState.Expanded);
    const rec = this.runs.get(node.runId)!;
    const item = new vscode.TreeItem(rec.view.label, vscode.TreeItemCollapsibleState.None);
    item.id = rec.runId;
    const origin = this.originOf(rec);
    // The method and its key setting come first: runs of one dataset differ mostly by them ("LoRA r=8").
    const described = `${runMethodLabel(rec, 'short')} · ${describe(rec)}`;
    item.description = origin ? `${described} · ${describeOrigin(origin)}` : described;
    item.tooltip = tooltip(rec, origin);
    item.iconPath = new vscode.ThemeIcon(ICON[rec.view.status]);
    item.contextValue = `run.${rec.view.status}`;
    item.command = { command: 'peftStudio.openDashboard', title: 'Open Dashboard', arguments: [rec.runId] };
    return item;
  }
}

function describe(rec: RunRecord): string {
  const v = rec.view;
  const step = v.steps.step.at(-1);
  const loss = v.steps.loss.at(-1);
  const parts: string[] = [];
  if (step !== undefined) parts.push(`step ${step}${v.started ? `/${v.started.totalSteps}` : ''}`);
  if (loss !== undefined) parts.push(`loss ${loss.toFixed(3)}`);
  const best = bestMetric(rec);
  if (best) parts.push(best);
  return parts.join(' · ') || v.status;
}

function bestMetric(rec: RunRecord): string | undefined {
  const evals = rec.view.evals;
  if (!evals.length) return undefined;
  const primary = evals[0]!.primary;
  const best = evals.filter((e) => e.isBest).at(-1) ?? evals.at(-1)!;
  const value = best.metrics[primary];
  return value === undefined ? undefined : `${primary} ${value.toFixed(3)}`;
}

function tooltip(rec: RunRecord, origin: RunOrigin | undefined): vscode.MarkdownString {
  const v = rec.view;
  const md = new vscode.MarkdownString(undefined, true);
  md.appendMarkdown(`**${v.label}** — ${v.status}\n\n`);
  if (v.started) {
    const c = v.started.config as Record<string, unknown>;
    md.appendMarkdown(`model \`${String(c.model)}\`  \ndata \`${String(c.train_file)}\`  \n`);
    md.appendMarkdown(`trainable ${v.started.trainable.count.toLocaleString()} (${v.started.trainable.percent.toFixed(3)}%)  \n`);
  }
  md.appendMarkdown(`\n**${runMethodLabel(rec, 'long')}**`);
  const settings = methodSettingsList(methodOfConfig(v.started?.config ?? rec.config));
  if (settings.length) md.appendMarkdown(`  \n${settings.map((s) => `${s.isDefault ? s.key : `**${s.key}**`} \`${s.value}\``).join(' · ')}`);
  md.appendMarkdown('\n\n');
  if (origin) md.appendMarkdown(`notebook \`${origin.notebook}\`, cell ${origin.cellIndex + 1} (id ${origin.cellId})  \n`);
  if (v.end?.reason) md.appendMarkdown(`\n${v.end.type}: ${v.end.reason.split('\n')[0]}`);
  return md;
}
