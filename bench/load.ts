// Load test (part of `npm run bench`, not of `npm test`): 20 Streamable HTTP MCP clients start 10
// runs each against the scripted model with zero think time, on loopback, and wait for all of them.
// Checks that all 200 complete, none is lost or duplicated; reports runs per second and tool-call
// latency percentiles. Stops by itself; bounded by a deadline.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startModelServer } from '../test/support/modelServer.js';
import { startSinkServer } from '../test/support/sinkServer.js';
import { cliPath, repoRoot } from '../test/support/mcpStdio.js';
import { freePort, startDevServer } from '../test/support/temporal.js';

const CLIENTS = 20;
const RUNS_PER_CLIENT = 10;
const DEADLINE_MS = 10 * 60_000;
const TOKEN = 'bench-token-0123456789abcdef';

export interface LoadResult {
  clients: number;
  runs: number;
  completed: number;
  duplicates: number;
  lost: number;
  seconds: number;
  runsPerSecond: number;
  latencyMs: Record<string, { p50: number; p95: number; p99: number; n: number }>;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runLoad(): Promise<LoadResult> {
  const [dev, model, sink] = await Promise.all([startDevServer(), startModelServer(), startSinkServer()]);
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({
    ...process.env,
    TEMPORAL_ADDRESS: dev.address,
    OPENAI_BASE_URL: model.baseUrl,
    OPENAI_API_KEY: 'bench',
    DURABLE_AGENT_MODEL: 'bench-model',
    DURABLE_AGENT_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'da-bench-')),
    DURABLE_AGENT_TOKEN: TOKEN,
    DURABLE_AGENT_LOG_LEVEL: 'warn',
  })) if (v !== undefined) env[k] = v;
  const server = spawn(process.execPath, [cliPath, 'serve', '--transport', 'http', '--port', String(port)], { env, cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const latencies = new Map<string, number[]>();
  const timed = async (client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> => {
    const t0 = performance.now();
    const res = (await client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 })) as CallToolResult;
    const list = latencies.get(name) ?? [];
    list.push(performance.now() - t0);
    latencies.set(name, list);
    if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
    return res;
  };
  try {
    for (const deadline = Date.now() + 60_000; ; ) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      if (res?.ok && ((await res.json()) as { worker: string }).worker === 'polling') break;
      if (Date.now() > deadline) throw new Error('the server did not become healthy');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Every run: one GET through http_request, then an answer naming the run's marker.
    for (let c = 0; c < CLIENTS; c++) {
      for (let r = 0; r < RUNS_PER_CLIENT; r++) {
        const id = `load-${c}-${r}`;
        model.script(id, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/load/${id}` } }] }, { content: `done ${id}` }]);
      }
    }
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const client = new Client({ name: 'bench', version: '1.0.0' });
        await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
        return client;
      }),
    );
    const t0 = performance.now();
    const finished = await Promise.race([
      Promise.all(
        clients.map(async (client, c) => {
          const runIds = await Promise.all(
            Array.from({ length: RUNS_PER_CLIENT }, async (_, r) => {
              const res = await timed(client, 'start_agent_run', { task: `load [script:load-${c}-${r}]`, approval: 'none' });
              return { runId: (res.structuredContent as { runId: string }).runId, id: `load-${c}-${r}` };
            }),
          );
          const results: Array<{ id: string; ok: boolean }> = [];
          for (const { runId, id } of runIds) {
            await timed(client, 'get_run_status', { runId });
            for (;;) {
              const res = await timed(client, 'get_run_result', { runId, waitSeconds: 30 });
              const s = res.structuredContent as { status: string; result?: string };
              if (s.status === 'running' || s.status === 'waiting_for_approval') continue;
              results.push({ id, ok: s.status === 'completed' && s.result === `done ${id}` });
              break;
            }
          }
          return results;
        }),
      ),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('load test deadline passed')), DEADLINE_MS).unref()),
    ]);
    const seconds = (performance.now() - t0) / 1000;
    await timed(clients[0]!, 'list_runs', { limit: 100 });
    for (const client of clients) await client.close();

    const all = finished.flat();
    const completed = all.filter((r) => r.ok).length;
    const hits = new Map<string, number>();
    for (const req of sink.requests()) if (req.path.startsWith('/load/')) hits.set(req.path, (hits.get(req.path) ?? 0) + 1);
    const duplicates = [...hits.values()].filter((n) => n > 1).length;
    const expected = CLIENTS * RUNS_PER_CLIENT;
    const latencyMs: LoadResult['latencyMs'] = {};
    for (const [name, list] of latencies) {
      const sorted = [...list].sort((a, b) => a - b);
      latencyMs[name] = { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), n: sorted.length };
    }
    return { clients: CLIENTS, runs: expected, completed, duplicates, lost: expected - hits.size, seconds, runsPerSecond: expected / seconds, latencyMs };
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    await Promise.all([dev.stop(), model.close(), sink.close()]);
  }
}
