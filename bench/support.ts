// Shared pieces of the benchmarks: the stack they run against (a local dev server started with the
// embedded one's settings, the scripted model, an HTTP sink), spawned CLI processes, MCP clients,
// percentiles and RSS. Everything stays on loopback and every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startModelServer, type ModelServer } from '../test/support/modelServer.js';
import { startSinkServer, type SinkServer } from '../test/support/sinkServer.js';
import { cliPath, repoRoot } from '../test/support/mcpStdio.js';
import { freePort, startDevServer, type DevServer } from '../test/support/temporal.js';
import { sleep, waitFor } from '../test/support/wait.js';

export { sleep, waitFor };

export const TOKEN = 'bench-token-0123456789abcdef';

export interface Stack {
  dev: DevServer;
  model: ModelServer;
  sink: SinkServer;
  /** Environment for a CLI process of this stack (own data dir and task queue per process group). */
  env(taskQueue: string, extra?: Record<string, string>): Record<string, string>;
  close(): Promise<void>;
}

/** One dev server (with the embedded dev server's settings), the scripted model and the sink. */
export async function startStack(): Promise<Stack> {
  const [dev, model, sink] = await Promise.all([
    startDevServer(),
    startModelServer(),
    startSinkServer(),
  ]);
  return {
    dev,
    model,
    sink,
    env(taskQueue, extra = {}) {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
      return {
        ...env,
        TEMPORAL_ADDRESS: dev.address,
        OPENAI_BASE_URL: model.baseUrl,
        OPENAI_API_KEY: 'bench',
        DURABLE_AGENT_MODEL: 'bench-model',
        DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-')),
        DURABLE_AGENT_TASK_QUEUE: taskQueue,
        DURABLE_AGENT_LOG_LEVEL: 'warn',
        DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
        ...extra,
      };
    },
    async close() {
      await Promise.all([dev.stop(), model.close(), sink.close()]);
    },
  };
}

export interface Spawned {
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Spawns the built CLI with stdout ignored and stderr kept in a log file (shown when it fails). */
export function spawnCli(args: string[], env: Record<string, string>): Spawned {
  const log = path.join(os.tmpdir(), `da-bench-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'ignore', fd] });
  fs.closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `serve --transport http` on a free port, once /healthz says a worker polls (or, with --no-worker, Temporal answers). */
export async function startHttpServer(env: Record<string, string>, extraArgs: string[] = []): Promise<Spawned & { url: URL; port: number }> {
  const port = await freePort();
  const server = spawnCli(['serve', '--transport', 'http', '--port', String(port), ...extraArgs], { ...env, DURABLE_AGENT_TOKEN: TOKEN });
  const wantWorker = !extraArgs.includes('--no-worker');
  await waitFor('the HTTP server to become healthy', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
    if (!res) return false;
    const health = (await res.json().catch(() => ({}))) as { temporal?: string; worker?: string };
    return health.temporal === 'reachable' && (!wantWorker || health.worker === 'polling');
  }, 60_000);
  return { ...server, port, url: new URL(`http://127.0.0.1:${port}/mcp`) };
}

/** An MCP client over Streamable HTTP; `token` picks the principal (default: the local one's TOKEN). */
export async function connectHttp(url: URL, token = TOKEN): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

/** Calls a tool and fails loudly on an error result: a benchmark must not time failures. */
export async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await client.callTool({ name, arguments: args }, { timeout: 120_000 });
  if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
  return res.structuredContent as Record<string, unknown>;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  n: number;
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  return { p50: at(50), p95: at(95), p99: at(99), n: sorted.length };
}

/** Milliseconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Resident set size of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** RSS after the process settles: the median of five readings a second apart. */
export async function settledRssMiB(pid: number): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(1_000);
    readings.push(rssMiB(pid));
  }
  return percentiles(readings).p50;
}

export const ms = (v: number) => `${v.toFixed(v < 100 ? 1 : 0)} ms`;
export const latency = (p: Percentiles) => `p50 ${ms(p.p50)}, p95 ${ms(p.p95)} (n=${p.n})`;
