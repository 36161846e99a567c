/**
 * End-to-end harness: a real VS Code workbench (code-server, installed by scripts/e2e/setup.sh) driven
 * headless by playwright-core in Debian's Chromium. Desktop VS Code cannot be downloaded here, so
 * @vscode/test-electron is not an option; code-server's extension host is plain Node 20.
 *
 * Every wait is bounded and every process is cleaned up: code-server runs in its own process group that
 * stop() kills (a disconnected browser otherwise leaves its extension host alive for hours), and an exit
 * hook kills any group still alive if a test crashes before its finally block.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { makeModelDir } from '../helpers/make-model';
import { makeRows, writeTsv } from '../helpers/train-fixtures';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const OUTPUT_DIR = path.join(REPO_ROOT, 'test-output/e2e');
const CS_VERSION = process.env.CODE_SERVER_VERSION ?? '4.99.4';
// Shared by every clone on the machine (CI clones afresh each time): the install is ~300 MB and ~2 min.
const CACHE = process.env.PEFT_STUDIO_E2E_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'peft-studio', 'e2e');
const CS_ENTRY = path.join(CACHE, `code-server-${CS_VERSION}`, 'node_modules/code-server/out/node/entry.js');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Keep the temp run dirs (logs, user data) for debugging instead of deleting them. */
const KEEP = process.env.PEFT_STUDIO_E2E_KEEP === '1';
/** Echo the workbench page console while extension tests run. */
const DEBUG = process.env.PEFT_STUDIO_E2E_DEBUG === '1';

/** Without these a walkthrough covers the editor, or update/trust/git prompts steal focus. */
const BASE_SETTINGS = {
  'workbench.startupEditor': 'none',
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'git.enabled': false,
  'security.workspace.trust.enabled': false,
  'workbench.tips.enabled': false,
  'update.mode': 'none',
};

export interface CodeServerOptions {
  /** A .vsix to install with `--install-extension … --force` before start. */
  extensionVsix?: string;
  /** An unpacked extension folder, copied to `<extensions>/<publisher>.<name>-<version>/`. */
  extensionDir?: string;
  /** Folder opened in the workbench. */
  workspace: string;
  /** Merged over BASE_SETTINGS into the fresh user settings.json. */
  settings?: Record<string, unknown>;
  /** Milliseconds to wait for /healthz (default 30 s). */
  readyTimeoutMs?: number;
}

export interface CodeServer {
  url: string;
  port: number;
  /** The temp dir holding user-data, extensions, XDG dirs and code-server.log. */
  runDir: string;
  stop(): Promise<void>;
}

// Process groups and temp dirs still alive; cleaned synchronously on exit so a crashed test leaves
// nothing running (Chromium itself is killed by playwright's own exit hook).
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  if (!KEEP) for (const dir of liveDirs) fs.rmSync(dir, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => process.exit(130)); // turns a signal into 'exit', which runs the hook above
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function tail(file: string, chars = 4000): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '(no log)';
  }
}

/** Env for code-server: XDG dirs inside the run dir (nothing written to $HOME), no gallery. */
function serverEnv(runDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // Inside a VS Code terminal, VSCODE_IPC_HOOK_CLI would make code-server hand the folder to that
    // instance instead of serving; other VSCODE_* leak the outer editor's state.
    if (!k.startsWith('VSCODE_')) env[k] = v;
  }
  return {
    ...env,
    XDG_CONFIG_HOME: path.join(runDir, 'xdg-config'),
    XDG_DATA_HOME: path.join(runDir, 'xdg-data'),
    XDG_CACHE_HOME: path.join(runDir, 'xdg-cache'),
    EXTENSIONS_GALLERY: '{}',
  };
}

export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  if (!fs.existsSync(CS_ENTRY)) {
    throw new Error(`code-server ${CS_VERSION} not found at ${CS_ENTRY}; run scripts/e2e/setup.sh first`);
  }
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-e2e-'));
  liveDirs.add(runDir);
  const userData = path.join(runDir, 'user-data');
  const extensions = path.join(runDir, 'extensions');
  const log = path.join(runDir, 'code-server.log');
  fs.mkdirSync(path.join(userData, 'User'), { recursive: true });
  fs.mkdirSync(extensions, { recursive: true });
  fs.writeFileSync(
    path.join(userData, 'User/settings.json'),
    JSON.stringify({ ...BASE_SETTINGS, ...opts.settings }, null, 2),
  );
  const env = serverEnv(runDir);
  const dirs = ['--user-data-dir', userData, '--extensions-dir', extensions];
  let child: ChildProcess | undefined;

  try {
    if (opts.extensionVsix) {
      // ~1 s; --force so reinstalling the same version replaces it.
      const r = spawnSync(process.execPath, [CS_ENTRY, ...dirs, '--install-extension', opts.extensionVsix, '--force'], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (r.status !== 0) throw new Error(`--install-extension failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
    }
    if (opts.extensionDir) {
      const pkg = JSON.parse(fs.readFileSync(path.join(opts.extensionDir, 'package.json'), 'utf8'));
      const dest = path.join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
      fs.cpSync(opts.extensionDir, dest, { recursive: true });
    }

    const port = await freePort();
    const out = fs.openSync(log, 'a');
    child = spawn(
      process.execPath,
      [
        CS_ENTRY,
        ...['--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', ...dirs],
        ...['--disable-telemetry', '--disable-update-check', '--disable-workspace-trust'],
        ...['--disable-getting-started-override', '--ignore-last-opened', opts.workspace],
      ],
      // detached: own process group, so stop() can kill code-server *and* its extension host/pty host.
      { env, detached: true, stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    const pgid = child.pid!;
    liveGroups.add(pgid);
    child.unref(); // the test process must not hang on it; stop()/the exit hook handle its lifetime
    let exited = false;
    child.once('exit', () => (exited = true));

    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    for (;;) {
      if (exited) throw new Error(`code-server exited during startup:\n${tail(log)}`);
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`code-server not healthy after timeout:\n${tail(log)}`);
      await sleep(200);
    }

    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      killGroup(pgid, 'SIGTERM');
      const until = Date.now() + 5000;
      while (groupAlive(pgid) && Date.now() < until) await sleep(100);
      killGroup(pgid, 'SIGKILL'); // whatever ignored SIGTERM (extension hosts sometimes do)
      liveGroups.delete(pgid);
      liveDirs.delete(runDir);
      if (!KEEP) fs.rmSync(runDir, { recursive: true, force: true });
    };
    return { url, port, runDir, stop };
  } catch (err) {
    if (child?.pid) {
      killGroup(child.pid, 'SIGKILL');
      liveGroups.delete(child.pid);
    }
    liveDirs.delete(runDir);
    if (!KEEP) fs.rmSync(runDir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Packages an already-built extension folder into `outFile` with the repo's vsce. vsce prompts on a
 * missing LICENSE file/repository, so stdin is closed and those checks are waived.
 */
export function packageVsix(extensionDir: string, outFile: string): string {
  const vsce = path.join(REPO_ROOT, 'node_modules/@vscode/vsce/vsce');
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  const r = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--out', outFile],
    { cwd: extensionDir, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (r.status !== 0) throw new Error(`vsce package failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return outFile;
}

/** Debian's Chromium (never `npx playwright install`, which downloads browsers). Its profile/cache live in a temp dir. */
export async function launchBrowser(): Promise<Browser> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-e2e-chromium-'));
  liveDirs.add(dir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
    env: { ...process.env, XDG_CONFIG_HOME: path.join(dir, 'config'), XDG_CACHE_HOME: path.join(dir, 'cache') },
  });
  browser.once('disconnected', () => {
    liveDirs.delete(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return browser;
}

/** workbench URL for `folder`, with an optional development payload (see runExtensionTests). */
function workbenchUrl(url: string, folder: string, payload?: [string, string][]): string {
  let u = `${url}/?folder=${encodeURIComponent(folder)}`;
  if (payload) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}

export async function openWorkbench(page: Page, url: string, folder: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(workbenchUrl(url, folder), { timeout: timeoutMs });
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: timeoutMs });
}

/**
 * Runs a command by its palette label ("Category: Title"). The workbench appears seconds before the
 * extension host has registered contributions, and the palette snapshots its list when it opens, so:
 * fill, give the row ~1.5 s to appear, else Escape and reopen, until the deadline.
 */
export async function runCommand(page: Page, label: string, timeoutMs = 30_000): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const row = page.locator(`.quick-input-widget .monaco-list-row[aria-label^=${JSON.stringify(label)}]`).first();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible', timeout: 5000 });
    await input.fill(`>${label}`); // fill(), not keyboard.type(): typing races the list filter
    try {
      await row.waitFor({ state: 'visible', timeout: 1500 });
      await row.click({ timeout: 5000 });
      return;
    } catch {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) throw new Error(`command "${label}" never appeared in the palette`);
      await sleep(300);
    }
  }
}

/**
 * The content of an extension's webview: outer `iframe.webview` (src carries extensionId, and
 * purpose=webviewView for sidebar views) → inner `#active-frame` holding the extension's HTML.
 */
export function webviewFrame(page: Page, extensionId: string, opts: { view?: boolean } = {}): FrameLocator {
  const purpose = opts.view ? '[src*="purpose=webviewView"]' : ':not([src*="purpose=webviewView"])';
  const outer = page.locator(`iframe.webview.ready[src*="extensionId=${extensionId}"]${purpose}`).first();
  return outer.contentFrame().locator('#active-frame').contentFrame();
}

/** The notebook toolbar's Run All button. */
export function notebookRunAllButton(page: Page): Locator {
  return page.locator('.notebook-toolbar-container a.action-label[aria-label^="Run All"]').first();
}

/**
 * Opens a notebook of the workspace by name (Go to File), waits until the status bar counts `errors` problems
 * (the notebook's deliberately bad cells, reported before anything runs) and presses Run All.
 * Returns the problems text and when Run All was pressed.
 */
export async function openNotebookAndRunAll(page: Page, file: string, errors: number): Promise<{ problems: string; startedAt: number }> {
  await runCommand(page, 'Go to File');
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.fill(file);
  await page.locator(`.quick-input-widget .monaco-list-row[aria-label*="${file}"]`).first().click({ timeout: 20_000 });
  await page.locator('.code-cell-row').first().waitFor({ timeout: 30_000 });
  const want = new RegExp(`${errors}\\D+0`);
  const problems = await until('the diagnostics', () => page.locator('[id="status.problems"]').first().textContent(), (txt) => want.test(txt ?? ''), 30_000);
  const runAll = notebookRunAllButton(page);
  await until('the Run All button', async () => (await runAll.isVisible()) && !(await runAll.getAttribute('class'))?.includes('disabled'), (v) => v, 60_000);
  await runAll.click();
  return { problems: (problems ?? '').trim(), startedAt: Date.now() };
}

/** The notebook's output webview (one per notebook editor) → its content frame. */
export function notebookOutputsFrame(page: Page): FrameLocator {
  return page.locator('iframe.webview.ready[src*="purpose=notebookRenderer"]').first().contentFrame().locator('#active-frame').contentFrame();
}

/** What a notebook run output shows, read from its data attributes. */
export interface RunOutputState {
  label: string;
  status: string;
  points: number;
  heat: number;
  method: string;
  components: string;
  latency: string | undefined;
}

/** Every run output in the notebook's output webview. */
export async function runOutputs(frame: FrameLocator): Promise<RunOutputState[]> {
  return frame.locator('[data-testid="peft-run-output"]').evaluateAll((els) =>
    els.map((e) => {
      const d = (e as unknown as { dataset: Record<string, string | undefined> }).dataset;
      return {
        label: e.querySelector('.title')?.textContent ?? '',
        status: d.status ?? '',
        points: Number(d.points ?? 0),
        heat: Number(d.heatCells ?? 0),
        method: d.method ?? '',
        components: d.components ?? '',
        latency: d.latencyMs,
      };
    }),
  );
}

/** Full-page PNG in test-output/e2e/<name>.png (git-ignored); returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, timeout: 15_000 });
  return file;
}

/** Nearest folder above `file` whose package.json declares engines.vscode (the extension under test). */
function extensionRootOf(file: string): string {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, 'utf8')).engines?.vscode) return dir;
  }
  throw new Error(`no extension package.json above ${file}`);
}

export interface ExtensionTestOptions {
  /** Folder to open (default: the suite's extension folder). */
  folder?: string;
  /** Loaded as a development extension (default: nearest extension folder above the suite). */
  extensionDevelopmentPath?: string;
  timeoutMs?: number;
  /** Print the buffered page console when the suite fails (default true). */
  logOnFailure?: boolean;
}

/**
 * Runs a @vscode/test-electron style suite (a CommonJS module exporting `run(): Promise<void>`) inside
 * the real extension host, via the workbench URL payload (the CLI rejects these flags; the URL accepts
 * them). The workbench reports the result by calling window.codeAutomationExit(0 | 1). Use a fresh page:
 * a function can be exposed only once per page. The extension host's console reaches the page console
 * as "%c INFO color: #33f …" lines, mixed with workbench noise, so the page console is buffered and
 * printed only when the suite fails (always with PEFT_STUDIO_E2E_DEBUG=1).
 */
export async function runExtensionTests(
  page: Page,
  url: string,
  suitePath: string,
  opts: ExtensionTestOptions = {},
): Promise<number> {
  const devPath = path.resolve(opts.extensionDevelopmentPath ?? extensionRootOf(path.resolve(suitePath)));
  const authority = new URL(url).host;
  const remote = (p: string) => `vscode-remote://${authority}${path.resolve(p)}`;
  const timeoutMs = opts.timeoutMs ?? 120_000;

  let report!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (report = resolve));
  await page.exposeFunction('codeAutomationExit', (code: number) => report(code));
  const lines: string[] = [];
  const echo = (m: { text(): string }) => {
    const line = m.text().replace(/%c\s*/g, '').replace(/color: #[0-9a-f]+\s*/gi, '');
    lines.push(line);
    if (DEBUG) console.log(`  [page] ${line}`);
  };
  page.on('console', echo);
  let timer: NodeJS.Timeout | undefined;
  let code: number | undefined;
  try {
    await page.goto(
      workbenchUrl(url, opts.folder ?? devPath, [
        ['extensionDevelopmentPath', remote(devPath)],
        ['extensionTestsPath', remote(suitePath)],
      ]),
      { timeout: 60_000 },
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`extension tests did not finish in ${timeoutMs} ms`)), timeoutMs);
    });
    code = await Promise.race([exited, timeout]);
    return code;
  } finally {
    clearTimeout(timer);
    if (code !== 0 && !DEBUG && opts.logOnFailure !== false) console.log(lines.map((l) => `  [page] ${l}`).join('\n'));
    page.off('console', echo);
  }
}

/**
 * Polls `fn` until `ok` accepts its value: webviews and frames reload under the test (a throw means "not
 * yet"), and the workbench offers no event to wait on. The error names what was awaited and the last value.
 */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch {
      // the frame may be reloading; try again
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface TrainingWorkspace {
  /** A fresh temp folder holding everything below; withWorkbench removes it. */
  tmp: string;
  workspace: string;
  /** `<workspace>/tiny-bert`: a 2-layer, 32-wide BERT checkpoint. */
  modelDir: string;
  /** `<workspace>/data/reviews.tsv`. */
  trainFile: string;
}

/** The workspace the PEFT Studio e2e tests train in: a tiny BERT folder and `rows` review rows. */
export function makeTrainingWorkspace(prefix: string, rows: number, labels?: string[], layers = 2): TrainingWorkspace {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(path.join(workspace, 'data'), { recursive: true });
  const made = makeModelDir({ family: 'bert', layers, hidden: 32, heads: 2, intermediate: 64 });
  const modelDir = path.join(workspace, 'tiny-bert');
  fs.cpSync(made.dir, modelDir, { recursive: true });
  const trainFile = writeTsv(path.join(workspace, 'data', 'reviews.tsv'), makeRows(rows), labels);
  return { tmp, workspace, modelDir, trainFile };
}

/** This checkout packaged as a .vsix (`npm run package`), into `tmp`. */
export function packageRepoVsix(tmp: string): string {
  const vsix = path.join(tmp, 'peft-studio.vsix');
  execFileSync('npm', ['run', 'package', '--', '--out', vsix], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return vsix;
}

export interface Workbench {
  server: CodeServer;
  browser: Browser;
  /** A page with the workbench open on the workspace. */
  page: Page;
  /** Date.now() before code-server started. */
  startedAt: number;
}

/**
 * One e2e test's lifecycle: code-server with `opts` (the extension, workspace, settings), Debian's
 * Chromium, one page on the workbench; then `body`; then, whatever happened, the browser closed, the server
 * stopped, `tmp` removed and the wall time (server start → shutdown) reported on `t`.
 */
export async function withWorkbench(
  t: TestContext,
  opts: CodeServerOptions & { tmp: string; viewport?: { width: number; height: number } },
  body: (w: Workbench) => Promise<void>,
): Promise<void> {
  const startedAt = Date.now();
  const server = await startCodeServer(opts);
  try {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1440, height: 900 } });
      await openWorkbench(page, server.url, opts.workspace);
      await body({ server, browser, page, startedAt });
    } finally {
      await browser.close();
    }
  } finally {
    await server.stop();
    fs.rmSync(opts.tmp, { recursive: true, force: true });
    t.diagnostic(`e2e wall time (server start → shutdown): ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  }
}
