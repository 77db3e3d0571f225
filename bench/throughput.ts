// Figure 3, throughput: one-step runs (the model answers at once) completed per second by one
// `durable-agent-mcp worker` process, with 1, 10 and 50 runs in flight at a time. The runs are
// started and awaited through the MCP server (HTTP, --no-worker), so every run takes the product's path.
import { call, connectHttp, spawnCli, startHttpServer, type Stack } from './support.js';

const LEVELS = [1, 10, 50];
const RUNS_PER_LEVEL = (concurrency: number) => Math.max(30, concurrency * 5);

export interface ThroughputRow {
  concurrency: number;
  runs: number;
  seconds: number;
  runsPerSecond: number;
}

export async function measureThroughput(stack: Stack): Promise<ThroughputRow[]> {
  const env = stack.env('bench-throughput');
  const worker = spawnCli(['worker'], env);
  const server = await startHttpServer(env, ['--no-worker']);
  const clients = await Promise.all(Array.from({ length: Math.max(...LEVELS) }, () => connectHttp(server.url)));
  const rows: ThroughputRow[] = [];
  try {
    await oneLevel(1, 5, 'warm'); // warm-up: the worker's first workflow task loads the bundle
    for (const concurrency of LEVELS) rows.push(await oneLevel(concurrency, RUNS_PER_LEVEL(concurrency), `c${concurrency}`));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await worker.stop();
  }
  return rows;

  /** `concurrency` loops, each starting a run and waiting for its result, until `runs` are done. */
  async function oneLevel(concurrency: number, runs: number, label: string): Promise<ThroughputRow> {
    for (let i = 0; i < runs; i++) stack.model.script(`tp-${label}-${i}`, [{ content: `done ${i}` }]);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      clients.slice(0, concurrency).map(async (client) => {
        for (let i = next++; i < runs; i = next++) {
          const { runId } = (await call(client, 'start_agent_run', { task: `throughput [script:tp-${label}-${i}]`, approval: 'none' })) as { runId: string };
          for (;;) {
            const s = await call(client, 'get_run_result', { runId, waitSeconds: 50 });
            if (s.status === 'completed') break;
            if (s.status !== 'running') throw new Error(`${runId} ended ${String(s.status)}`);
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { concurrency, runs, seconds, runsPerSecond: runs / seconds };
  }
}
