/**
 * The Runs tree: a thin mapping of run-manager state to TreeItems, grouped by base model (one base, many
 * task runs: protocol/runs-by-base.ts). Each run keeps its status icon; a base's description counts them.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunManager, RunRecord } from './core/runManager';
import { describeOrigin, readOrigin, type RunOrigin } from './notebook/origin';
import { methodOfConfig, methodSettingsList, runMethodLabel } from '../../protocol/method';
import type { RunStatus } from '../../protocol/webview';
import { groupByBase, statusCounts, taskOf, type BaseGroup } from '../../protocol/runs-by-base';

const ICON: Record<RunStatus, string> = { queued: 'clock', running: 'sync~spin', paused: 'debug-pause', finished: 'pass', stopped: 'debug-stop', failed: 'error' };

export type RunsNode = { kind: 'base'; key: string } | { kind: 'run'; runId: string };

/** A run's config as grouping reads it: the resolved one once it started, its folder paths made absolute. */
export function runGroups(runs: RunManager): BaseGroup<{ runId: string; config: Record<string, unknown> | undefined; rec: RunRecord }>[] {
  return groupByBase(
    runs.list().map((rec) => ({ runId: rec.runId, config: (rec.view.started?.config as Record<string, unknown> | undefined) ?? rec.config, rec })),
    (p, r) => (path.isAbsolute(p) ? path.normalize(p) : path.resolve(r.rec.baseDir ?? process.cwd(), p)),
  );
}

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
    const groups = runGroups(this.runs);
    if (!node) return groups.map((g) => ({ kind: 'base', key: g.key }));
    if (node.kind === 'base') return (groups.find((g) => g.key === node.key)?.runs ?? []).map((r) => ({ kind: 'run', runId: r.runId }));
    return [];
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'base') {
      const g = runGroups(this.runs).find((x) => x.key === node.key);
      const item = new vscode.TreeItem(g?.label ?? node.key, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `base:${node.key}`;
      item.iconPath = new vscode.ThemeIcon('database');
      const counts = statusCounts((g?.runs ?? []).map((r) => r.rec.view.status));
      const tasks = [...new Set((g?.runs ?? []).map((r) => taskOf(r.config)))];
      item.description = `${tasks.length} task${tasks.length === 1 ? '' : 's'} · ${counts}`;
      item.tooltip = `Base model ${node.key}\nTasks: ${tasks.join(', ')}`;
      item.contextValue = 'base';
      return item;
    }
    const rec = this.runs.get(node.runId)!;
    const item = new vscode.TreeItem(rec.view.label, vscode.TreeItemCollapsibleState.None);
    item.id = rec.runId;
    const origin = this.originOf(rec);
    // The method and its key setting come first: runs of one dataset differ mostly by them ("LoRA r=8").
    const task = taskOf((rec.view.started?.config as Record<string, unknown> | undefined) ?? rec.config);
    const described = `${task} · ${runMethodLabel(rec, 'short')} · ${describe(rec)}`;
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
