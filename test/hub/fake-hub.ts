/**
 * A fake Hub on 127.0.0.1 for the download tests: the API listing, `resolve` URLs, and — for LFS files — a
 * 302 carrying X-Linked-Etag to a "CDN" on a second port (another origin, as on the real Hub, so we can
 * check the token is not sent there). Every request is recorded. It refuses to serve more than
 * `maxRequests` and stops itself after a minute, so a runaway retry loop cannot hang the suite.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  repo: string;
  sha: string;
  files: Record<string, Buffer>;
  /** Served like LFS files: 302 to the CDN with the sha256 as X-Linked-Etag. */
  lfs?: string[];
}

export interface FakeHubBehaviour {
  /** Answer every request with this status (no X-Error-Code: a bare server). */
  status?: number;
  /** Extra headers on a forced status. */
  statusHeaders?: Record<string, string>;
  /** No API: /api/... answers a bare 404, as a static mirror would. */
  noApi?: boolean;
  /** Cut the connection after this many body bytes of `file`, `times` times. */
  drop?: { file: string; afterBytes: number; times: number };
  /** Announce a wrong sha256 for these LFS files. */
  wrongEtag?: string[];
  /** Ignore Range headers and always send the whole file with 200. */
  ignoreRange?: boolean;
  maxRequests?: number;
}

export interface RecordedRequest {
  port: 'hub' | 'cdn';
  url: string;
  range?: string;
  auth?: string;
}

export interface FakeHub {
  endpoint: string;
  requests: RecordedRequest[];
  /** Requests for file bytes (resolve or CDN), not the API. */
  fileRequests(): RecordedRequest[];
  close(): Promise<void>;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha1 = (b: Buffer) => createHash('sha1').update(b).digest('hex');

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startFakeHub(repo: FakeRepo, b: FakeHubBehaviour = {}): Promise<FakeHub> {
  const requests: RecordedRequest[] = [];
  const maxRequests = b.maxRequests ?? 100;
  let drops = b.drop?.times ?? 0;
  let cdnPort = 0;

  /** Serves bytes with Range support, or cuts the connection midway when told to. */
  function sendFile(req: http.IncomingMessage, res: http.ServerResponse, name: string, headers: Record<string, string>): void {
    const body = repo.files[name]!;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m && !b.ignoreRange ? Number(m[1]) : 0;
    if (start > body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
      return;
    }
    const slice = body.subarray(start);
    const h: Record<string, string> = { ...headers, 'content-length': String(slice.length), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (start > 0) h['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    res.writeHead(start > 0 ? 206 : 200, h);
    if (b.drop && b.drop.file === name && drops > 0) {
      drops--;
      // Let the client take the bytes before the cut: a web stream that errors drops what it had queued.
      res.write(slice.subarray(0, b.drop.afterBytes), () => setTimeout(() => res.socket?.destroy(), 50));
      return;
    }
    res.end(slice);
  }

  function handle(port: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse): void {
    requests.push({ port, url: req.url ?? '', range: req.headers.range, auth: req.headers.authorization });
    if (requests.length > maxRequests) {
      res.writeHead(503).end();
      void stop();
      return;
    }
    if (b.status) {
      res.writeHead(b.status, b.statusHeaders ?? {}).end('{"error":"forced"}');
      return;
    }
    const url = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (port === 'cdn') {
      const name = url.split('/').pop()!;
      if (repo.files[name]) sendFile(req, res, name, { etag: `"cdn-${name}"` });
      else res.writeHead(404).end();
      return;
    }
    const api = new RegExp(`^/api/models/${repo.repo}/revision/(.+)$`).exec(url);
    if (api) {
      if (b.noApi) res.writeHead(404).end('Not Found');
      else if (api[1] !== 'main' && api[1] !== repo.sha) res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end();
      else {
        const siblings = Object.keys(repo.files).map((rfilename) => ({ rfilename }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repo.repo, sha: repo.sha, siblings }));
      }
      return;
    }
    const file = new RegExp(`^/${repo.repo}/resolve/(main|${repo.sha})/(.+)$`).exec(url);
    if (!file || !repo.files[file[2]!]) {
      res.writeHead(404, { 'x-error-code': file ? 'EntryNotFound' : 'RepoNotFound' }).end();
      return;
    }
    const name = file[2]!;
    if (repo.lfs?.includes(name)) {
      const etag = b.wrongEtag?.includes(name) ? sha256(Buffer.from('something else')) : sha256(repo.files[name]!);
      res.writeHead(302, { location: `http://127.0.0.1:${cdnPort}/blobs/${name}`, 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(repo.files[name]!.length) }).end();
      return;
    }
    sendFile(req, res, name, { etag: `"${sha1(repo.files[name]!)}"` });
  }

  const hub = http.createServer((req, res) => handle('hub', req, res));
  const cdn = http.createServer((req, res) => handle('cdn', req, res));
  const hubPort = await listen(hub);
  cdnPort = await listen(cdn);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= Promise.all(
      [hub, cdn].map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections(); // fetch keeps connections alive; without this close() waits for them
          }),
      ),
    ).then(() => undefined));
  setTimeout(() => void stop(), 60_000).unref();

  return {
    endpoint: `http://127.0.0.1:${hubPort}`,
    requests,
    fileRequests: () => requests.filter((r) => !r.url.startsWith('/api/')),
    close: stop,
  };
}
