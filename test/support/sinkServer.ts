/**
 * An HTTP sink that records every request and answers 200 JSON {ok:true,n}. A path starting with
 * `/slow` is recorded on arrival but answered only after 4 s, so a test can kill the caller between
 * the effect and the reply; `/big` answers with 5 MB; `/fail503` always answers 503;
 * `/redirect?to=<url>[&status=307]` answers that redirect (302 by default).
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
  close(): Promise<void>;
}

export async function startSinkServer(opts: { host?: string } = {}): Promise<SinkServer> {
  const host = opts.host ?? '127.0.0.1';
  const recorded: SinkRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
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
      if ((req.url ?? '').startsWith('/slow')) setTimeout(reply, 4_000);
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
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
