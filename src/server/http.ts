// Streamable HTTP at /mcp: one MCP server and transport per session, several clients at once.
// Every request passes the Host check (DNS rebinding, from the SDK), the Origin check (403 for a
// foreign browser origin, as the MCP spec requires) and, with a token, the bearer check (401).
// GET /healthz says whether Temporal is reachable and a worker polls; it needs no token.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { log } from '../log.js';
import type { RunService } from './runService.js';

export interface HttpOptions {
  host: string;
  port: number;
  token?: string;
  /** Browser origins allowed besides loopback ones. */
  allowedOrigins: string[];
}

/** How long shutdown waits for requests in flight before it closes what is left. */
const DRAIN_MS = 10_000;
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;

export async function serveHttp(
  makeServer: () => McpServer,
  runs: RunService,
  options: HttpOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = createMcpExpressApp({ host: options.host });
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  let inFlight = 0;

  app.get('/healthz', (_req, res) => {
    runs
      .health()
      .then((health) => res.status(health.temporal === 'reachable' ? 200 : 503).json({ ok: health.temporal === 'reachable', ...health }))
      .catch((err: unknown) => res.status(503).json({ ok: false, error: err instanceof Error ? err.message : String(err) }));
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !LOOPBACK_ORIGIN.test(origin) && !options.allowedOrigins.includes(origin)) {
      log.warn('HTTP request refused: foreign Origin', { origin });
      return void res.status(403).json(rpcError(-32000, `Origin ${origin} is not allowed (see --allowed-origins)`));
    }
    if (options.token && !bearerMatches(req.headers.authorization, options.token)) {
      return void res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json(rpcError(-32001, 'Unauthorized: send Authorization: Bearer <token> (the server\'s --token / DURABLE_AGENT_TOKEN)'));
    }
    inFlight++;
    res.once('close', () => inFlight--);
    next();
  });

  app.all('/mcp', async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    let transport = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (!transport) {
      if (typeof sessionId === 'string') {
        res.status(404).json(rpcError(-32001, 'Unknown or expired MCP session; initialize again'));
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        res.status(400).json(rpcError(-32000, 'No valid MCP session; send initialize first'));
        return;
      }
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void sessions.set(id, created),
      });
      created.onclose = () => {
        if (created.sessionId) sessions.delete(created.sessionId);
      };
      await makeServer().connect(created);
      transport = created;
    }
    await transport.handleRequest(req, res, req.body);
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port, options.host, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/mcp`;
  log.info('MCP over Streamable HTTP', { url, auth: options.token ? 'bearer token' : 'none (loopback only)' });
  return {
    url,
    async close() {
      // Stop accepting, let requests in flight finish (waits end early), then close what is left.
      server.close();
      runs.endWaits();
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      server.closeAllConnections();
    },
  };
}

/** Constant-time comparison (of digests, so the length leaks nothing either). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}
