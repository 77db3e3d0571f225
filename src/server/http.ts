// Streamable HTTP at /mcp: one MCP server and transport per session, several clients at once.
// Order per request: Host check (DNS rebinding, on every loopback bind) → /healthz (no token) → Origin
// check (403 for a foreign browser origin, as the MCP spec requires) → bearer check (401, before any
// body is read) → JSON body (size-capped) → /mcp. Every error, including unknown paths, is JSON-RPC JSON.
// The caller's principal reaches tool handlers as `extra.authInfo.clientId`; a session belongs to the
// principal that initialized it, and sessions are capped (LRU eviction) and expire when idle.
import { createServer as createHttpServer, type Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { toNodeHandler, toWebRequest } from '@modelcontextprotocol/node';
import { createMcpHandler, isInitializeRequest, isLegacyRequest, type AuthInfo, type McpServer } from '@modelcontextprotocol/server';
import { ConfigError, isLoopback } from '../config.js';
import { log } from '../log.js';
import { clientNameIn } from './caller.js';
import { HttpSessions, type Session } from './httpSessions.js';
import type { Runs } from './runs.js';
import { isRunListen, listenToRuns, type ListenRequest } from './listen/index.js';
import { TokenStore } from './tokens.js';

export interface HttpOptions {
  host: string;
  port: number;
  token?: string;
  /** Principal names → tokens, re-read on change and SIGHUP. */
  tokensFile?: string;
  /** Browser origins allowed besides loopback ones. */
  allowedOrigins: string[];
  /** Live sessions at most; at the cap a new one evicts the least recently used idle one. */
  maxSessions?: number;
  /** Seconds without a request after which a session is closed. */
  sessionIdleTimeoutSeconds?: number;
  /** Whether task notifications carry approval forms (off: --no-elicitation). */
  inlineApprovals?: boolean;
}

/** How long shutdown waits for requests in flight before it closes what is left. */
const DRAIN_MS = 10_000;
/** task and instructions are ≤ 100,000 characters each; JSON escapes make that at most ~1.2 MB. */
const BODY_LIMIT_MB = 4;
const LOOPBACK_ORIGIN = /^https?:\/\/(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/i;
const LOOPBACK_HOSTNAME = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;
/** An idle SSE stream gets a comment this often, so proxies keep it open. */
const KEEP_ALIVE_MS = 15_000;

type AuthedRequest = Request & { auth?: AuthInfo };

export async function serveHttp(
  makeServer: () => McpServer,
  runs: Runs,
  options: HttpOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const tokens = new TokenStore({
    ...(options.token ? { token: options.token } : {}),
    ...(options.tokensFile ? { tokensFile: options.tokensFile } : {}),
  });
  const maxSessions = options.maxSessions ?? 256;
  const sessions = new HttpSessions(makeServer, maxSessions, (options.sessionIdleTimeoutSeconds ?? 1800) * 1000);
  // 2026-07-28 requests are stateless: each is served by a fresh server from the same factory. The
  // SDK validates their headers and envelope; 2025-era traffic goes to the sessions below instead.
  const modern = createMcpHandler(() => makeServer(), {
    legacy: 'reject',
    maxRequestBodySize: BODY_LIMIT_MB * 1024 * 1024,
    onerror: (err) => log.debug('MCP (2026-07-28) request refused or failed', { error: err.message }),
  });
  const serveModern = toNodeHandler(modern, { maxRequestBodySize: BODY_LIMIT_MB * 1024 * 1024 });
  let inFlight = 0;

  const app = express();
  app.disable('x-powered-by');
  if (isLoopback(options.host)) app.use(loopbackHostCheck);

  app.get('/healthz', (_req, res) => {
    runs
      .health()
      .then((health) =>
        res.status(health.temporal === 'reachable' ? 200 : 503).json({ ok: health.temporal === 'reachable', ...health, sessions: sessions.size }),
      )
      .catch((err: unknown) => res.status(503).json({ ok: false, error: err instanceof Error ? err.message : String(err), sessions: sessions.size }));
  });

  app.use((req: AuthedRequest, res: Response, next: NextFunction) => {
    const origin = req.headers.origin;
    if (origin !== undefined && !LOOPBACK_ORIGIN.test(origin) && !options.allowedOrigins.includes(origin)) {
      log.warn('HTTP request refused: foreign Origin', { origin });
      return void res.status(403).json(rpcError(-32000, `Origin ${origin} is not allowed (see --allowed-origins)`));
    }
    const principal = tokens.principalFor(req.headers.authorization);
    if (principal === undefined) {
      return void res
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json(rpcError(-32001, 'Unauthorized: send Authorization: Bearer <token> (the server\'s --token or a token from its --tokens-file)'));
    }
    // The SDK hands req.auth to tool handlers as ctx.http.authInfo (both eras).
    req.auth = { token: '', clientId: principal, scopes: [] };
    next();
  });

  // Any content type is parsed (and so size-capped); the transport itself answers 415 for non-JSON.
  app.use(express.json({ limit: BODY_LIMIT_MB * 1024 * 1024, type: () => true }));
  // Shutdown waits for requests in flight, but not for the streams clients keep open for
  // notifications (a 2025-era GET stream, a 2026-07-28 subscriptions/listen): those end with it.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const stream = req.method === 'GET' || (req.body as { method?: unknown } | undefined)?.method === 'subscriptions/listen';
    if (!stream) {
      inFlight++;
      res.once('close', () => inFlight--);
    }
    next();
  });

  app.all('/mcp', async (req: AuthedRequest, res) => {
    const principal = req.auth?.clientId ?? '';
    const sessionId = req.headers['mcp-session-id'];
    // A listen naming tasks or run:// resources is ours (the SDK's router knows neither).
    if (req.method === 'POST' && isRunListen(req.body)) {
      await serveRunListen(req.body, res, principal);
      return;
    }
    // A request that carries the per-request `_meta` envelope speaks 2026-07-28; the SDK serves it,
    // statelessly: that era has no sessions, so an Mcp-Session-Id header on it is ignored.
    if (req.method === 'POST' && !(await isLegacyRequest(await toWebRequest(req, req.body)))) {
      await serveModern(req, res, req.body);
      return;
    }
    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      // Another principal's session answers exactly as an unknown one: its existence is not revealed.
      session = sessions.find(sessionId, principal);
      if (!session) {
        res.status(404).json(rpcError(-32001, 'Unknown or expired MCP session; initialize again'));
        return;
      }
    } else {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        res.status(400).json(rpcError(-32000, 'No valid MCP session; send initialize first'));
        return;
      }
      session = await sessions.create(principal);
      if (!session) {
        res.status(503).set('Retry-After', '5').json(rpcError(-32000, `All ${maxSessions} MCP sessions are busy (--max-sessions); try again shortly`));
        return;
      }
    }
    // Used now and, but for the GET stream, busy until answered.
    sessions.use(session, req.method === 'GET', (done) => res.once('close', done));
    try {
      await session.transport.handleRequest(req, res, req.body);
    } finally {
      // An initialize the transport refused leaves a session that can never be used.
      if (session.transport.sessionId === undefined) sessions.close(session, 'initialize failed');
    }
  });

  /** One subscriptions/listen for runs: its errors as JSON, else an SSE stream until either side ends it. */
  async function serveRunListen(request: ListenRequest, res: Response, principal: string): Promise<void> {
    const caller = { principal, client: clientNameIn(request.params._meta) ?? 'unknown client' };
    const send = (message: object) => {
      if (res.writableEnded) return;
      if (!res.headersSent) {
        if ('error' in message) return void res.status(200).json(message);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      }
      res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    };
    const subscription = listenToRuns(request, { runs, caller, inlineApprovals: options.inlineApprovals ?? true, send });
    const keepAlive = setInterval(() => res.headersSent && !res.writableEnded && res.write(': keepalive\n\n'), KEEP_ALIVE_MS);
    res.once('close', () => subscription.close());
    await subscription.done;
    clearInterval(keepAlive);
    if (!res.writableEnded) res.end();
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).json(rpcError(-32600, 'Not found: the MCP endpoint is /mcp (and GET /healthz)'));
  });

  // Last: every error as JSON-RPC JSON, never Express's HTML page (which shows a stack trace).
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return void res.end();
    const e = (typeof err === 'object' && err !== null ? err : {}) as { status?: unknown; type?: unknown; expose?: unknown; message?: unknown };
    const status = typeof e.status === 'number' && e.status >= 400 && e.status < 600 ? e.status : 500;
    if (status === 413) {
      return void res.status(413).json(rpcError(-32600, `Request body too large (limit ${BODY_LIMIT_MB} MB)`));
    }
    if (e.type === 'entity.parse.failed') return void res.status(400).json(rpcError(-32700, 'Parse error: the body is not valid JSON'));
    if (status < 500) {
      return void res.status(status).json(rpcError(-32600, e.expose === true && typeof e.message === 'string' ? e.message : 'Invalid request'));
    }
    log.error('HTTP request failed', { error: err instanceof Error ? err.message : String(err) });
    res.status(500).json(rpcError(-32603, 'Internal error'));
  });

  const server: Server = createHttpServer(app);
  const hostForUrl = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    sessions.closeAll();
    tokens.close();
    throw new ConfigError(`cannot listen on ${hostForUrl}:${options.port}: ${listenReason(err)}`);
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${hostForUrl}:${port}/mcp`;
  log.info('MCP over Streamable HTTP', {
    url,
    auth: options.tokensFile ? 'bearer tokens (--tokens-file)' : options.token ? 'bearer token' : 'none (loopback only)',
    maxSessions,
  });
  return {
    url,
    async close() {
      // Stop accepting, let requests in flight finish (waits end early), then close what is left.
      server.close();
      tokens.close();
      runs.endWaits();
      const deadline = Date.now() + DRAIN_MS;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      sessions.closeAll();
      await modern.close().catch(() => undefined);
      server.closeAllConnections();
    },
  };
}

/** On a loopback bind only loopback names may appear in Host: a rebound DNS name is refused. */
function loopbackHostCheck(req: Request, res: Response, next: NextFunction): void {
  const header = req.headers.host;
  let hostname: string | undefined;
  try {
    hostname = header ? new URL(`http://${header}`).hostname : undefined;
  } catch {
    hostname = undefined;
  }
  if (hostname === undefined || !LOOPBACK_HOSTNAME.test(hostname)) {
    log.warn('HTTP request refused: Host is not a loopback name', { host: header });
    return void res.status(403).json(rpcError(-32000, `Invalid Host header: ${header ?? '(none)'}`));
  }
  next();
}

function listenReason(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  switch (code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this machine';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name does not resolve';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}
