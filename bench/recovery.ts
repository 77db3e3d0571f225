// Figure 6, recovery: 20 runs in flight on one worker process (each step a held-back model call and
// a GET), the worker SIGKILLed and a new one started at once: how long until every run progresses
// again (the model endpoint sees its next request).
import { call, connectHttp, percentiles, sleep, spawnCli, startHttpServer, waitFor, type Percentiles, type Stack } from './support.js';

const RUNS = 20;
const MODEL_DELAY_MS = 300;

export interface RecoveryResult {
  runs: number;
  /** SIGKILL to the last run's next model request. */
  allProgressingMs: number;
  /** SIGKILL to each run's next model request. */
  perRunMs: Percentiles;
}

export async function measureRecovery(stack: Stack): Promise<RecoveryResult> {
  const env = stack.env('bench-recovery');
  let worker = spawnCli(['worker'], env);
  const server = await startHttpServer(env, ['--no-worker']);
  const client = await connectHttp(server.url);
  const ids = Array.from({ length: RUNS }, (_, i) => `recovery-${i}`);
  const runIds: string[] = [];
  try {
    for (const id of ids) {
      // The last step repeats: a slow model turn asking for a GET, until maxSteps.
      stack.model.script(id, [{ delayMs: MODEL_DELAY_MS, then: { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/recovery/${id}` } }] } }]);
      runIds.push(((await call(client, 'start_agent_run', { task: `recovery [script:${id}]`, approval: 'none', maxSteps: 500 })) as { runId: string }).runId);
    }
    await waitFor('every run to be a few steps in', () => ids.every((id) => stack.model.requests(id).length >= 3), 60_000);

    worker.child.kill('SIGKILL');
    const killedAt = performance.now();
    const atKill = new Map(ids.map((id) => [id, stack.model.requests(id).length]));
    worker = spawnCli(['worker'], env);
    const progressedAfter = new Map<string, number>();
    const deadline = Date.now() + 120_000;
    while (progressedAfter.size < RUNS) {
      if (Date.now() > deadline) throw new Error(`only ${progressedAfter.size} of ${RUNS} runs progressed within 120 s of the kill`);
      for (const id of ids) {
        if (!progressedAfter.has(id) && stack.model.requests(id).length > atKill.get(id)!) progressedAfter.set(id, performance.now() - killedAt);
      }
      await sleep(20);
    }
    const perRun = [...progressedAfter.values()];
    return { runs: RUNS, allProgressingMs: Math.max(...perRun), perRunMs: percentiles(perRun) };
  } finally {
    for (const runId of runIds) await call(client, 'cancel_run', { runId }).catch(() => undefined);
    await client.close();
    await server.stop();
    await worker.stop();
  }
}
