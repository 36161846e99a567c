/**
 * resolveModel against a fake Hub on loopback: full download, cache hits without requests, resume with
 * Range after a dropped connection, checksum failure, the Hub's refusals, offline use and the sharded layout.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { PeftStudioError } from '../../engine/errors';
import { resolveModel, type HubProgress } from '../../engine/hub';
import { startFakeHub, sha256, type FakeHub, type FakeHubBehaviour, type FakeRepo } from './fake-hub';

const REPO = 'google/bert_uncased_L-2_H-128_A-2';
const SHA = 'a'.repeat(40);
const WEIGHTS = randomBytes(300 * 1024);
const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from(JSON.stringify({ model_type: 'bert', hidden_size: 128, num_hidden_layers: 2 })),
  'model.safetensors': WEIGHTS,
  'vocab.txt': Buffer.from('[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n'),
  'README.md': Buffer.from('# not needed\n'),
};
const FAKE: FakeRepo = { repo: REPO, sha: SHA, files: FILES, lfs: ['model.safetensors'] };

// The tests must not see the developer's Hub settings (nor write to their cache).
const ENV_KEYS = ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_OFFLINE', 'PEFT_STUDIO_CACHE'];
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
for (const k of ENV_KEYS) delete process.env[k];

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-hub-'));
let n = 0;
const newCache = () => path.join(tmpRoot, `cache-${n++}`);

const hubs: FakeHub[] = [];
async function hub(repo: FakeRepo = FAKE, b: FakeHubBehaviour = {}): Promise<FakeHub> {
  const h = await startFakeHub(repo, b);
  hubs.push(h);
  return h;
}

after(async () => {
  await Promise.all(hubs.map((h) => h.close()));
  fs.rmSync(tmpRoot, { recursive: true, force: true });
  for (const k of ENV_KEYS) if (savedEnv[k] === undefined) delete process.env[k];
  else process.env[k] = savedEnv[k];
});

afterEach(() => {
  for (const k of ENV_KEYS) delete process.env[k];
});

function assertSameFiles(dir: string, names: string[], files: Record<string, Buffer> = FILES): void {
  for (const f of names) assert.ok(fs.readFileSync(path.join(dir, f)).equals(files[f]!), `${f} differs`);
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.incomplete')), []);
}

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<PeftStudioError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PeftStudioError, `not a PeftStudioError: ${(e as Error)?.stack}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('resolveModel: download', () => {
  it('downloads config, tokenizer and weights into models--org--name/snapshots/{sha}', async () => {
    const h = await hub();
    const cacheDir = newCache();
    const progress: HubProgress[] = [];
    const dir = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint, token: 'hf_secret', onProgress: (p) => progress.push(p) });
    assert.equal(dir, path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', SHA));
    assertSameFiles(dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    assert.ok(!fs.existsSync(path.join(dir, 'README.md')), 'only the files a model folder needs');
    assert.equal(fs.readFileSync(path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'refs', 'main'), 'utf8'), SHA);
    // Every file ends with a bytes === total report; the weights reported along the way too.
    for (const f of ['config.json', 'vocab.txt', 'model.safetensors']) {
      assert.ok(progress.some((p) => p.file === f && p.bytes === FILES[f]!.length && p.total === p.bytes), f);
    }
    assert.ok(progress.filter((p) => p.file === 'model.safetensors').length > 2);
    // Downloads go by commit; the token goes to the Hub but not to the CDN (another origin).
    assert.ok(h.fileRequests().filter((r) => r.port === 'hub').every((r) => r.url.includes(`/resolve/${SHA}/`) && r.auth === 'Bearer hf_secret'));
    const cdn = h.requests.filter((r) => r.port === 'cdn');
    assert.equal(cdn.length, 1);
    assert.equal(cdn[0]!.auth, undefined);
  });

  it('a second call makes no file requests, and a complete commit makes none at all', async () => {
    const h = await hub();
    const cacheDir = newCache();
    const first = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    const before = h.requests.length;
    assert.equal(await resolveModel(REPO, { cacheDir, endpoint: h.endpoint }), first);
    const again = h.requests.slice(before);
    assert.deepEqual(again.map((r) => r.url), [`/api/models/${REPO}/revision/main`], 'only the listing, to learn the branch head');
    const n = h.requests.length;
    assert.equal(await resolveModel(REPO, { cacheDir, endpoint: h.endpoint, revision: SHA }), first);
    assert.equal(h.requests.length, n);
  });

  it('resumes with a Range request after the connection drops mid-file', async () => {
    const h = await hub(FAKE, { drop: { file: 'model.safetensors', afterBytes: 100_000, times: 1 } });
    const dir = await resolveModel(REPO, { cacheDir: newCache(), endpoint: h.endpoint });
    assertSameFiles(dir, ['model.safetensors']);
    const cdn = h.requests.filter((r) => r.port === 'cdn');
    assert.equal(cdn.length, 2);
    assert.equal(cdn[0]!.range, undefined);
    assert.equal(cdn[1]!.range, 'bytes=100000-', 'the retry asks for the rest');
  });

  it('continues an .incomplete left by an earlier run', async () => {
    const h = await hub();
    const cacheDir = newCache();
    const snap = path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', SHA);
    fs.mkdirSync(snap, { recursive: true });
    fs.writeFileSync(path.join(snap, 'model.safetensors.incomplete'), WEIGHTS.subarray(0, 50_000));
    const dir = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    assertSameFiles(dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    assert.deepEqual(h.requests.filter((r) => r.port === 'cdn').map((r) => r.range), ['bytes=50000-']);
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    const h = await hub(FAKE, { ignoreRange: true });
    const cacheDir = newCache();
    const snap = path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', SHA);
    fs.mkdirSync(snap, { recursive: true });
    fs.writeFileSync(path.join(snap, 'model.safetensors.incomplete'), WEIGHTS.subarray(0, 50_000));
    assertSameFiles(await resolveModel(REPO, { cacheDir, endpoint: h.endpoint }), ['model.safetensors']);
  });

  it('deletes the download and fails when the sha256 does not match the X-Linked-Etag', async () => {
    const h = await hub(FAKE, { wrongEtag: ['model.safetensors'] });
    const cacheDir = newCache();
    await rejectsWith(resolveModel(REPO, { cacheDir, endpoint: h.endpoint }), 'IO', /Checksum mismatch for model\.safetensors .*sha256/);
    const snap = path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', SHA);
    assert.ok(!fs.existsSync(path.join(snap, 'model.safetensors')));
    assert.ok(!fs.existsSync(path.join(snap, 'model.safetensors.incomplete')));
    assert.ok(!fs.existsSync(path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'refs', 'main')), 'no ref to half a snapshot');
  });

  it('downloads the shards a model.safetensors.index.json names', async () => {
    const shards = { 'model-00001-of-00002.safetensors': randomBytes(40_000), 'model-00002-of-00002.safetensors': randomBytes(30_000) };
    const index = { metadata: { total_size: 70_000 }, weight_map: { 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors', 'c.bias': 'model-00001-of-00002.safetensors' } };
    const files = { 'config.json': FILES['config.json']!, 'model.safetensors.index.json': Buffer.from(JSON.stringify(index)), ...shards };
    const h = await hub({ repo: REPO, sha: SHA, files, lfs: Object.keys(shards) });
    const cacheDir = newCache();
    const dir = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    assertSameFiles(dir, Object.keys(files), files);
    const n = h.fileRequests().length;
    await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    assert.equal(h.fileRequests().length, n, 'sharded snapshot counts as complete');
  });

  it('takes pytorch_model.bin when the repo has no safetensors', async () => {
    const files = { 'config.json': FILES['config.json']!, 'pytorch_model.bin': randomBytes(10_000), 'tf_model.h5': randomBytes(100) };
    const h = await hub({ repo: REPO, sha: SHA, files, lfs: ['pytorch_model.bin'] });
    const dir = await resolveModel(REPO, { cacheDir: newCache(), endpoint: h.endpoint });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'pytorch_model.bin']);
  });

  it('probes the known file names when the endpoint has no API', async () => {
    const h = await hub(FAKE, { noApi: true });
    const cacheDir = newCache();
    const dir = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    assert.equal(dir, path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', 'main'));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'vocab.txt']);
    assertSameFiles(dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    const n = h.fileRequests().length;
    await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
    assert.equal(h.fileRequests().length, n);
  });

  it('reads HF_ENDPOINT and HF_TOKEN from the environment', async () => {
    const h = await hub();
    process.env.HF_ENDPOINT = h.endpoint;
    process.env.HF_TOKEN = 'hf_from_env';
    process.env.PEFT_STUDIO_CACHE = newCache();
    const dir = await resolveModel(REPO);
    assert.ok(dir.startsWith(process.env.PEFT_STUDIO_CACHE));
    assert.ok(h.requests.filter((r) => r.port === 'hub').every((r) => r.auth === 'Bearer hf_from_env'));
  });
});

describe('resolveModel: errors', () => {
  it('404 everywhere: no such model or file', async () => {
    const h = await hub(FAKE, { status: 404 });
    const e = await rejectsWith(resolveModel('nobody/nothing', { cacheDir: newCache(), endpoint: h.endpoint }), 'MISSING_FILE', /No such model or file.*nobody\/nothing/);
    assert.match(e.message, /--model/);
  });

  it('the Hub says RepoNotFound: no such model', async () => {
    const h = await hub(FAKE, { status: 404, statusHeaders: { 'x-error-code': 'RepoNotFound' } });
    await rejectsWith(resolveModel('nobody/nothing', { cacheDir: newCache(), endpoint: h.endpoint }), 'MISSING_FILE', /No such model on .*nobody\/nothing/);
    assert.equal(h.requests.length, 1, 'no probing after the Hub said so');
  });

  it('401: says to set HF_TOKEN', async () => {
    const h = await hub(FAKE, { status: 401 });
    await rejectsWith(resolveModel(REPO, { cacheDir: newCache(), endpoint: h.endpoint }), 'IO', /HTTP 401.*set HF_TOKEN/);
    const h2 = await hub(FAKE, { status: 403, statusHeaders: { 'x-error-code': 'GatedRepo' } });
    await rejectsWith(resolveModel(REPO, { cacheDir: newCache(), endpoint: h2.endpoint, token: 'hf_x' }), 'IO', /gated.*token sent \(HF_TOKEN\) was not accepted/);
  });

  it('a retry budget is not infinite: a file that always drops fails with "run again to resume"', async () => {
    const h = await hub(FAKE, { drop: { file: 'model.safetensors', afterBytes: 1000, times: 99 } });
    const cacheDir = newCache();
    await rejectsWith(resolveModel(REPO, { cacheDir, endpoint: h.endpoint }), 'IO', /interrupted.*run again to resume/);
    const part = path.join(cacheDir, 'models--google--bert_uncased_L-2_H-128_A-2', 'snapshots', SHA, 'model.safetensors.incomplete');
    assert.equal(fs.statSync(part).size, 4000, 'what arrived is kept');
    assert.equal(h.requests.filter((r) => r.port === 'cdn').length, 4, 'one try and three retries');
  });

  it('bad ids and revisions are refused before any request', async () => {
    let called = 0;
    const fetchImpl = (async () => {
      called++;
      throw new Error('no');
    }) as unknown as typeof fetch;
    await rejectsWith(resolveModel('../no-such-folder-here', { fetchImpl, cacheDir: newCache() }), 'MISSING_FILE', /does not exist/);
    await rejectsWith(resolveModel('a--b/c', { fetchImpl, cacheDir: newCache() }), 'BAD_INPUT', /Hub model id/);
    await rejectsWith(resolveModel(REPO, { fetchImpl, cacheDir: newCache(), revision: '../x' }), 'BAD_INPUT', /revision/);
    assert.equal(called, 0);
  });
});

describe('resolveModel: offline and local', () => {
  const failingFetch = (async () => {
    throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
  }) as unknown as typeof fetch;

  let cacheDir: string;
  let cached: string;
  let h: FakeHub;
  before(async () => {
    h = await hub();
    cacheDir = newCache();
    cached = await resolveModel(REPO, { cacheDir, endpoint: h.endpoint });
  });

  it('offline with a cached snapshot: returns it with zero requests', async () => {
    const n = h.requests.length;
    assert.equal(await resolveModel(REPO, { cacheDir, endpoint: h.endpoint, offline: true }), cached);
    process.env.HF_HUB_OFFLINE = '1';
    assert.equal(await resolveModel(REPO, { cacheDir, endpoint: h.endpoint }), cached);
    assert.equal(h.requests.length, n);
  });

  it('offline without one: says exactly what to do', async () => {
    const e = await rejectsWith(resolveModel('google/other-model', { cacheDir, endpoint: h.endpoint, offline: true }), 'MISSING_FILE', /not in the local cache/);
    assert.match(e.message, /--model \.\.\/shared\/models\/bert-mlm-tiny/);
    assert.match(e.message, /go online/);
    assert.match(e.message, /HF_ENDPOINT/);
  });

  it('network down: the cached snapshot, else the same advice', async () => {
    assert.equal(await resolveModel(REPO, { cacheDir, fetchImpl: failingFetch }), cached);
    const e = await rejectsWith(resolveModel('google/other-model', { cacheDir, fetchImpl: failingFetch }), 'IO', /cannot be reached \(connect ECONNREFUSED/);
    assert.match(e.message, /--model .*HF_ENDPOINT/);
  });

  it('an existing directory is returned as is, without requests', async () => {
    const local = fs.mkdtempSync(path.join(tmpRoot, 'local-'));
    assert.equal(await resolveModel(local, { fetchImpl: failingFetch }), local);
    const file = path.join(local, 'config.json');
    fs.writeFileSync(file, '{}');
    await rejectsWith(resolveModel(file, { fetchImpl: failingFetch }), 'MISSING_FILE', /is a file/);
  });

  it('the snapshot really is the repo (sha256 of the weights)', () => {
    assert.equal(sha256(fs.readFileSync(path.join(cached, 'model.safetensors'))), sha256(WEIGHTS));
  });
});
