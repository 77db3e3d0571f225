// Load test (part of `npm run bench`, not of `npm test`): 20 Streamable HTTP MCP clients start 10
// runs each against the scripted model with zero think time, on loopback, and wait for all of them.
// Checks that all 200 complete, none is lost or duplicated; reports runs per second and tool-call
// latency percentiles. Stops by itself; bounded by a deadline.
import type { Client } from '@modelcontextprotocol/client';
import { call, connectHttp, percentiles, startHttpServer, type Percentiles, type Stack } from './support.js';

const CLIENTS = 20;
const RUNS_PER_CLIENT = 10;
const DEADLINE_MS = 10 * 60_000;

export interface LoadResult {
  clients: number;
  runs: number;
  completed: number;
  duplicates: number;
  lost: number;
  seconds: number;
  runsPerSecond: number;
  latencyMs: Record<string, Percentiles>;
}

export async function runLoad(stack: Stack): Promise<LoadResult> {
  const server = await startHttpServer(stack.env('bench-load'));
  const latencies = new Map<string, number[]>();
  const timed = async (client: Client, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const t0 = performance.now();
    const res = await call(client, name, args);
    latencies.set(name, [...(latencies.get(name) ?? []), performance.now() - t0]);
    return res;
  };
  try {
    // Every run: one GET through http_request, then an answer naming the run's marker.
    for (let c = 0; c < CLIENTS; c++) {
      for (let r = 0; r < RUNS_PER_CLIENT; r++) {
        const id = `load-${c}-${r}`;
        stack.model.script(id, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/load/${id}` } }] }, { content: `done ${id}` }]);
      }
    }
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connectHttp(server.url)));
    const t0 = performance.now();
    const finished = await Promise.race([
      Promise.all(
        clients.map(async (client, c) => {
          const runIds = await Promise.all(
            Array.from({ length: RUNS_PER_CLIENT }, async (_, r) => {
              const res = await timed(client, 'start_agent_run', { task: `load [script:load-${c}-${r}]`, approval: 'none' });
              return { runId: res.runId as string, id: `load-${c}-${r}` };
            }),
          );
          const results: Array<{ id: string; ok: boolean }> = [];
          for (const { runId, id } of runIds) {
            await timed(client, 'get_run_status', { runId });
            for (;;) {
              const s = await timed(client, 'get_run_result', { runId, waitSeconds: 30 });
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
    await Promise.all(clients.map((client) => client.close()));

    const all = finished.flat();
    const completed = all.filter((r) => r.ok).length;
    const hits = new Map<string, number>();
    for (const req of stack.sink.requests()) if (req.path.startsWith('/load/')) hits.set(req.path, (hits.get(req.path) ?? 0) + 1);
    const duplicates = [...hits.values()].filter((n) => n > 1).length;
    const expected = CLIENTS * RUNS_PER_CLIENT;
    const latencyMs = Object.fromEntries([...latencies].map(([name, list]) => [name, percentiles(list)]));
    return { clients: CLIENTS, runs: expected, completed, duplicates, lost: expected - hits.size, seconds, runsPerSecond: expected / seconds, latencyMs };
  } finally {
    await server.stop();
  }
}
