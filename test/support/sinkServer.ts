/**
 * An HTTP sink that records every request and answers 200 JSON {ok:true,n}. A path starting with
 * `/slow` is recorded on arrival but answered only after 4 s, so a test can kill the caller between
 * the effect and the reply; `/big` answers with 5 MB; `/fail503` always answers 503;
 * `/redirect?to=<url>[&status=307]` answers that redirect (302 by default). Any path with
 * `?delayMs=<n>` is answered after n ms; `maxInFlight(prefix)` tells how many requests under a
 * path prefix were open at once, so a test can tell calls that overlapped from calls in a row, and
 * `abandoned(prefix)` how many the caller gave up on before the answer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SinkRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SinkServer {
  url: string;
  requests(): SinkRequest[];
  idempotencyKeys(): string[];
  /** The most requests whose path starts with `prefix` that were open (arrived, not yet answered) at once. */
  maxInFlight(prefix: string): number;
  /** Requests under `prefix` whose caller hung up before the answer (a cancelled call). */
  abandoned(prefix: string): number;
  close(): Promise<void>;
}

export async function startSinkServer(opts: { host?: string } = {}): Promise<SinkServer> {
  const host = opts.host ?? '127.0.0.1';
  const recorded: SinkRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  /** Open requests by path, and the high-water mark per path: maxInFlight sums them by prefix. */
  const open: string[] = [];
  const peaks = new Map<string, number>();
  const hungUp: string[] = [];
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    open.push(path);
    res.once('close', () => {
      open.splice(open.indexOf(path), 1);
      if (!res.writableEnded) hungUp.push(path);
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      recorded.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const text = JSON.stringify({ ok: true, n: recorded.length });
      const reply = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text).toString() });
        res.end(req.method === 'HEAD' ? undefined : text);
      };
      if ((req.url ?? '').startsWith('/big')) {
        // 5 MB, to prove tool output is cut before it enters workflow history.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(5 * 1024 * 1024));
        return;
      }
      if ((req.url ?? '').startsWith('/redirect')) {
        const query = new URL(req.url ?? '', 'http://sink').searchParams;
        res.writeHead(Number(query.get('status') ?? 302), { location: query.get('to') ?? '/', 'content-type': 'text/plain' });
        res.end('redirecting');
        return;
      }
      if ((req.url ?? '').startsWith('/fail503')) {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('upstream unavailable');
        return;
      }
      // Every open request's path records how many were open with it under each of its prefixes.
      for (let cut = 1; cut <= path.length; cut++) {
        const prefix = path.slice(0, cut);
        const count = open.filter((p) => p.startsWith(prefix)).length;
        if (count > (peaks.get(prefix) ?? 0)) peaks.set(prefix, count);
      }
      const delayMs = Number(new URL(path, 'http://sink').searchParams.get('delayMs') ?? 0);
      if (path.startsWith('/slow')) setTimeout(reply, 4_000);
      else if (delayMs > 0) setTimeout(reply, delayMs);
      else reply();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests: () => [...recorded],
    idempotencyKeys: () =>
      recorded
        .map((r) => r.headers['idempotency-key'])
        .filter((k): k is string | string[] => k !== undefined)
        .map((k) => (Array.isArray(k) ? k.join(',') : k)),
    maxInFlight: (prefix) => peaks.get(prefix) ?? 0,
    abandoned: (prefix) => hungUp.filter((p) => p.startsWith(prefix)).length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
