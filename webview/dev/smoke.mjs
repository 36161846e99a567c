/**
 * Dev only: renders the built dashboard and sidebar in headless Chromium under the real webview CSP, with
 * fake-host.ts playing the extension host, checks the basics and takes screenshots.
 *
 *   node webview/dev/smoke.mjs [outdir=/tmp/peft-webview-smoke]     (needs /usr/bin/chromium)
 *
 * Not a test suite: the e2e tests in real VS Code (shared/e2e/RECIPE.md) own that. This is the quick loop
 * for layout, themes and CSP while working on the webview.
 */
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildWebview, noZod } from '../build.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? '/tmp/peft-webview-smoke');
const dist = path.join(out, 'dist');
await buildWebview({ outdir: dist, minify: true });
await esbuild.build({ entryPoints: [path.join(here, 'fake-host.ts')], bundle: true, format: 'iife', platform: 'browser', outfile: path.join(dist, 'fake-host.js'), logLevel: 'warning', plugins: [noZod] });

const NONCE = 'smoke0nonce0value';
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.ttf': 'font/ttf', '.html': 'text/html' };
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const origin = `http://${req.headers.host}`;
  try {
    let body;
    if (url.pathname === '/dashboard.html' || url.pathname === '/sidebar.html') body = page(url.pathname.slice(1, -5), origin);
    else if (url.pathname === '/theme.css') body = await readFile(path.join(here, 'theme.css'));
    else if (url.pathname.startsWith('/dist/')) body = await readFile(path.join(dist, path.basename(url.pathname)));
    else if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    else throw new Error('not found');
    res.writeHead(200, { 'content-type': TYPES[path.extname(url.pathname)] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

/** The HTML contract of webview/README.md, with the CSP the extension sets (cspSource = this origin). */
function page(entry, origin) {
  const csp = `default-src 'none'; img-src ${origin} data:; style-src ${origin}; font-src ${origin}; script-src 'nonce-${NONCE}';`;
  return `<!DOCTYPE html><html lang="en" class="dark"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="/theme.css"><link rel="stylesheet" href="/dist/${entry}.css"></head>
<body class="vscode-dark"><div id="app"></div>
<script nonce="${NONCE}" src="/dist/fake-host.js"></script>
<script nonce="${NONCE}" src="/dist/${entry}.js"></script></body></html>`;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking'],
});
const results = [];
const check = (name, ok, detail = '') => {
  results.push({ name, ok: !!ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `  (${detail})` : ''}`);
};

async function open(file, viewport = { width: 1280, height: 1100 }) {
  const p = await browser.newPage({ viewport });
  const errors = [];
  p.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  p.on('pageerror', (e) => errors.push(String(e)));
  await p.goto(`${base}/${file}`);
  return { p, errors };
}
const hook = (p, expr) => p.evaluate(expr);

try {
  // ── dashboard, dark ──
  const { p, errors } = await open('dashboard.html?steps=3000');
  await p.waitForFunction(() => window.__peftDashboard?.pointCount('sst2-lr1e-3') === 3000, null, { timeout: 10_000 });
  check('ready handshake posted first', (await hook(p, () => window.__posted[0]?.kind)) === 'dashboard/ready');
  const live0 = await hook(p, () => window.__peftDashboard.pointCount('sst2-lr5e-4'));
  await p.waitForTimeout(1500);
  const live1 = await hook(p, () => window.__peftDashboard.pointCount('sst2-lr5e-4'));
  check('live run grows from appended events', live1 > live0, `${live0} → ${live1}`);
  check('heatmap has non-zero cells', (await hook(p, () => window.__peftDashboard.heatmapNonZeroCells('sst2-lr5e-4'))) > 50);
  await p.screenshot({ path: path.join(out, 'dashboard-dark.png'), fullPage: true });

  // keyboard: roving tabindex in the heatmap
  await p.locator('[data-testid="heatmap"] td[tabindex="0"]').focus();
  for (const k of ['ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowRight', 'Enter']) await p.keyboard.press(k);
  const detail = await p.locator('.heatmap-details h3').textContent();
  check('arrow keys + Enter select a heatmap cell', detail === 'layer.2 · key', detail ?? '');
  check('one tabbable cell', (await p.locator('[data-testid="heatmap"] td[tabindex="0"]').count()) === 1);
  await p.locator('[data-testid="heatmap-scrubber"]').fill('3');
  check('scrubber shows an earlier step', /^step \d+$/.test((await p.locator('.step-label').textContent()) ?? ''));
  await p.screenshot({ path: path.join(out, 'dashboard-heatmap-scrubbed.png'), fullPage: true });

  // controls and picker post the protocol's messages
  await p.locator('[data-testid="pause-button"]').click();
  await p.waitForFunction(() => document.querySelector('[data-testid="status-badge"]')?.textContent === 'paused');
  check('pause posts run/pause for the focused run', await hook(p, () => window.__posted.some((m) => m.kind === 'run/pause' && m.runId === 'sst2-lr5e-4')));
  check('resume enabled once paused', await p.locator('[data-testid="resume-button"]').isEnabled());
  await p.locator('[data-testid="run-sst2-lr1e-3"] input[type="checkbox"]').uncheck();
  const sel = await hook(p, () => window.__posted.filter((m) => m.kind === 'dashboard/select').at(-1));
  check('unchecking a run posts dashboard/select', JSON.stringify(sel?.runIds) === '["sst2-lr5e-4"]', JSON.stringify(sel));
  await p.locator('[data-testid="run-sst2-lr1e-3"] input[type="checkbox"]').check();
  await p.locator('[data-testid="smoothing"]').fill('0.95');
  await p.locator('[data-testid="log-scale"]').check();
  await p.waitForTimeout(200);
  const ui = await hook(p, () => window.__peftDashboard.state().ui);
  check('smoothing and log scale reach the UI state', ui.smoothing === 0.95 && ui.logScale === true, JSON.stringify(ui));
  await p.screenshot({ path: path.join(out, 'dashboard-log-smooth.png'), fullPage: true });

  // zoom: wheel over the chart, then double-click resets
  const box = await p.locator('[data-testid="loss-chart"]').boundingBox();
  await p.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await p.mouse.wheel(0, -400);
  await p.waitForTimeout(200);
  check('wheel zooms the loss chart', await hook(p, () => window.__peftDashboard.state().zoomed));
  await p.screenshot({ path: path.join(out, 'dashboard-zoomed.png'), fullPage: true });
  await p.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
  await p.waitForTimeout(100);
  check('double-click resets the zoom', !(await hook(p, () => window.__peftDashboard.state().zoomed)));
  await p.locator('[data-testid="heatmap-mode-relative"]').click();

  // a LoRA run: its own columns and measure, no second colour mode, detail lists for a selected cell
  {
    const { p: lp, errors: lerr } = await open('dashboard.html?steps=300&live=0&lora=1');
    await lp.waitForFunction(() => window.__peftDashboard?.state().focused === 'sst2-lora', null, { timeout: 10_000 });
    const layout = await hook(lp, () => window.__peftDashboard.heatmapLayout('sst2-lora'));
    check('LoRA heatmap: its targets as columns, its measure', JSON.stringify(layout) === JSON.stringify({ measure: '‖ΔW‖F / ‖W‖F', kinds: ['query', 'value'] }), JSON.stringify(layout));
    check('LoRA: no relative mode (its value is relative already)', await lp.locator('[data-testid="heatmap-mode-relative"]').isHidden());
    await lp.locator('[data-testid="heatmap"] td[data-row="layer.11"][data-kind="value"]').click();
    const titles = await lp.locator('[data-testid="heatmap-detail"] h4').allTextContents();
    check('a selected LoRA cell lists singular values and units', titles.length === 3 && /singular/.test(titles[0] ?? ''), titles.join(' | '));
    await lp.screenshot({ path: path.join(out, 'dashboard-lora.png'), fullPage: true });
    check('LoRA page: no console errors', lerr.length === 0, lerr.join('; '));
    await lp.close();
  }

  // themes: VS Code swaps the body class and the variables
  for (const [html, body] of [['light', 'vscode-light'], ['hc', 'vscode-high-contrast']]) {
    await p.evaluate(([h, b]) => {
      document.documentElement.className = h;
      document.body.className = b;
    }, [html, body]);
    await p.waitForTimeout(300);
    await p.screenshot({ path: path.join(out, `dashboard-${html}.png`), fullPage: true });
  }
  check('no CSP violations', (await hook(p, () => window.__csp)).length === 0, (await hook(p, () => window.__csp)).join('; '));
  check('no console errors', errors.length === 0, errors.join('; '));

  // restore: reload with a host that never answers; the page draws what setState saved
  await p.waitForTimeout(1200); // the state is saved at most once a second
  await p.goto(`${base}/dashboard.html?silent=1`);
  await p.waitForFunction(() => window.__peftDashboard?.pointCount('sst2-lr1e-3') === 3000, null, { timeout: 5000 }).catch(() => undefined);
  check('restores from getState before the host answers', (await hook(p, () => window.__peftDashboard.pointCount('sst2-lr1e-3'))) === 3000);
  await p.close();

  // ── 100k points: first render, then frame times while events stream in ──
  const big = await open('dashboard.html?steps=100000');
  const t0 = Date.now();
  await big.p.waitForFunction(() => window.__peftDashboard?.pointCount('sst2-lr1e-3') === 100000, null, { timeout: 30_000 });
  const firstMs = Date.now() - t0;
  const frames = await big.p.evaluate(
    () =>
      new Promise((resolve) => {
        const gaps = [];
        let last = performance.now();
        const end = last + 2000;
        const tick = (t) => {
          gaps.push(t - last);
          last = t;
          if (t < end) requestAnimationFrame(tick);
          else resolve(gaps);
        };
        requestAnimationFrame(tick);
      }),
  );
  frames.sort((a, b) => a - b);
  const p95 = frames[Math.floor(frames.length * 0.95)];
  const rs = await hook(big.p, () => window.__peftDashboard.renderStats());
  check('100k-point run renders', true, `${firstMs} ms to first full render incl. page load; frame p95 ${p95.toFixed(1)} ms while streaming; render() last ${rs.lastMs.toFixed(1)} ms, max ${rs.maxMs.toFixed(1)} ms over ${rs.renders}`);
  await big.p.screenshot({ path: path.join(out, 'dashboard-100k.png') });
  check('no console errors (100k)', big.errors.length === 0, big.errors.join('; '));
  await big.p.close();

  // ── sidebar ──
  const side = await open('sidebar.html', { width: 300, height: 220 });
  await side.p.waitForFunction(() => document.querySelector('[data-testid="sidebar-loss"]')?.textContent?.startsWith('loss 0'));
  await side.p.waitForTimeout(600);
  check('sidebar shows the live run', (await side.p.locator('[data-testid="sidebar-run"]').textContent()) === 'sst2 · lr 5e-4');
  check('sidebar: no CSP violations or errors', (await hook(side.p, () => window.__csp)).length === 0 && side.errors.length === 0, side.errors.join('; '));
  await side.p.screenshot({ path: path.join(out, 'sidebar-dark.png') });
  await side.p.close();
} finally {
  await browser.close();
  server.close();
}
const failed = results.filter((r) => !r.ok).length;
console.log(`\n${results.length - failed}/${results.length} checks passed; screenshots in ${out}`);
process.exit(failed ? 1 : 0);
