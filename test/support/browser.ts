/**
 * A real browser for the app tests: Debian's Chromium (installed with apt-get when missing and the
 * tests run as root), driven by playwright-core, which never downloads a browser of its own. And the
 * test host's web server: the host page and the sandbox proxy page (test/browser, bundled here with
 * esbuild), and `/mcp` relayed to the CLI under test so the page's client talks same-origin HTTP.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './mcpStdio.js';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * The Chromium executable, installing Debian's package first when it is missing and we may
 * (root, apt-get present); otherwise the reason the browser tests are skipped.
 */
export function ensureChromium(): { path: string } | { skip: string } {
  if (fs.existsSync(CHROMIUM)) return { path: CHROMIUM };
  const root = process.getuid?.() === 0;
  if (!root || !fs.existsSync('/usr/bin/apt-get')) {
    return { skip: `no Chromium at ${CHROMIUM} (install Debian's chromium, or set CHROMIUM_PATH); not root, so not installing it` };
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // apt's output goes to stderr: the test runner reads this process's stdout.
  const opts = { stdio: ['ignore', 2, 2] as ['ignore', number, number], env, timeout: 10 * 60_000 };
  try {
    process.stderr.write(`browser tests: installing chromium with apt-get\n`);
    execFileSync('apt-get', ['update'], opts);
    execFileSync('apt-get', ['install', '-y', 'chromium'], opts);
  } catch (err) {
    return { skip: `apt-get install chromium failed: ${String(err)}` };
  }
  return fs.existsSync(CHROMIUM) ? { path: CHROMIUM } : { skip: `apt-get installed chromium but ${CHROMIUM} is missing` };
}

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [path.join(repoRoot, 'test', 'browser', entry)],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'warning',
  });
  return out.outputFiles[0]!.text;
}

export interface RelayedCall {
  method: string;
  /** tools/call: the tool's name; resources/read: the uri. */
  name?: string;
  at: number;
}

export interface HostServer {
  /** The host page on http://127.0.0.1:<port>, with the token, the era and the sandbox URL in its fragment. */
  pageUrl(token: string, era?: 'modern' | 'legacy'): string;
  /** Every JSON-RPC request the page sent to /mcp, in order. */
  calls: RelayedCall[];
  close(): Promise<void>;
}

const HOST_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MCP Apps test host</title>
<style>
  body { margin: 0; font: 14px system-ui, sans-serif; background: #f4f4f5; color: #18181b; }
  html[data-theme=dark] body { background: #0f0f10; color: #e4e4e7; }
  header { padding: 10px 16px; font-weight: 600; border-bottom: 1px solid #d4d4d8; }
  html[data-theme=dark] header { border-color: #3f3f46; }
  #slot { padding: 12px 16px; }
  #slot iframe { width: 100%; border: 1px solid #d4d4d8; border-radius: 10px; background: transparent; height: 200px; display: block; }
  html[data-theme=dark] #slot iframe { border-color: #3f3f46; }
</style></head>
<body><header>Assistant · durable-agent-mcp</header><div id="slot"></div><script src="/host.js"></script></body></html>`;

const SANDBOX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><style>html,body{margin:0;height:100%;background:transparent}iframe{border:0;width:100%;height:100%;display:block}</style></head>
<body><script src="/sandbox.js"></script></body></html>`;

/**
 * Serves the host page at 127.0.0.1 and the sandbox proxy at `localhost` (another origin, same
 * port), and relays /mcp to `mcpUrl`, recording each request's method and tool name.
 */
export async function startHostServer(mcpUrl: string): Promise<HostServer> {
  const [hostJs, sandboxJs] = await Promise.all([bundle('host.ts'), bundle('sandbox.ts')]);
  const target = new URL(mcpUrl);
  const calls: RelayedCall[] = [];

  const relay = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void => {
    if (body.length) {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as unknown;
        for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
          const msg = m as { method?: string; params?: { name?: string; uri?: string } };
          if (msg.method) calls.push({ method: msg.method, name: msg.params?.name ?? msg.params?.uri, at: Date.now() });
        }
      } catch {
        /* not JSON: the server answers that */
      }
    }
    const headers = { ...req.headers, host: target.host };
    const upstream = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
    res.on('close', () => upstream.destroy());
    upstream.end(body);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = (req.url ?? '/').split('?')[0];
      const send = (type: string, text: string) => res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(text);
      if (url === '/mcp') return relay(req, res, Buffer.concat(chunks));
      if (url === '/') return send('text/html; charset=utf-8', HOST_HTML);
      if (url === '/host.js') return send('text/javascript', hostJs);
      if (url === '/sandbox.html') return send('text/html; charset=utf-8', SANDBOX_HTML);
      if (url === '/sandbox.js') return send('text/javascript', sandboxJs);
      if (url === '/favicon.ico') return res.writeHead(204).end();
      res.writeHead(404).end();
    });
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    pageUrl: (token, era = 'legacy') =>
      `http://127.0.0.1:${port}/#token=${encodeURIComponent(token)}&era=${era}&sandbox=${encodeURIComponent(`http://localhost:${port}/sandbox.html`)}`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
