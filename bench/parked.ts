// Figure 4, the scale of waiting: RSS of one `durable-agent-mcp worker` process with 0, 100 and 500
// runs parked on an approval, and the RSS each parked run costs. Also what model calls in flight
// cost, for sizing --max-concurrent-activities. Runs are started through an MCP server (--no-worker).
import type { Client } from '@modelcontextprotocol/client';
import { call, connectHttp, settledRssMiB, spawnCli, startHttpServer, waitFor, type Stack } from './support.js';

const PARKED_LEVELS = [100, 500];
const IN_FLIGHT = 50;
const STARTERS = 10;

export interface ParkedResult {
  /** Worker flags of this measurement, e.g. [] or ['--max-cached-workflows', '50']. */
  workerArgs: string[];
  rssMiB: Record<string, number>;
  perParkedRunMiB: number;
  inFlight: { calls: number; rssMiB: number; perCallMiB: number };
}

export async function measureParked(stack: Stack, workerArgs: string[] = []): Promise<ParkedResult> {
  const queue = `bench-parked-${workerArgs.join('').replace(/[^a-z0-9]/gi, '') || 'default'}`;
  const env = stack.env(queue);
  const worker = spawnCli(['worker', ...workerArgs], env);
  const server = await startHttpServer(env, ['--no-worker']);
  const clients = await Promise.all(Array.from({ length: STARTERS }, () => connectHttp(server.url)));
  const pid = worker.child.pid!;
  try {
    // A first run loads the workflow bundle, so the baseline is a worker ready to work.
    await park(clients, stack, queue, 'warm', 1);
    const rssMiB: Record<string, number> = { '0 parked': await settledRssMiB(pid) };
    let parked = 0;
    for (const level of PARKED_LEVELS) {
      await park(clients, stack, queue, `p${level}`, level - parked);
      parked = level;
      rssMiB[`${level} parked`] = await settledRssMiB(pid);
    }
    const top = PARKED_LEVELS[PARKED_LEVELS.length - 1]!;
    const perParkedRunMiB = (rssMiB[`${top} parked`]! - rssMiB['0 parked']!) / top;

    // Model calls in flight: each run's model reply is held back while RSS is read.
    const before = rssMiB[`${top} parked`]!;
    const ids = Array.from({ length: IN_FLIGHT }, (_, i) => `${queue}-fly-${i}`);
    for (const id of ids) stack.model.script(id, [{ delayMs: 20_000, then: { content: 'done' } }]);
    await Promise.all(ids.map((id, i) => call(clients[i % STARTERS]!, 'start_agent_run', { task: `in flight [script:${id}]`, approval: 'none' })));
    await waitFor('model calls to be in flight', () => ids.every((id) => stack.model.requests(id).length > 0), 60_000);
    const during = await settledRssMiB(pid);
    return {
      workerArgs,
      rssMiB,
      perParkedRunMiB,
      inFlight: { calls: IN_FLIGHT, rssMiB: during, perCallMiB: (during - before) / IN_FLIGHT },
    };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
    await worker.stop();
  }
}

/** Starts `count` runs that each stop at their first tool call for an approval, and waits until all wait. */
async function park(clients: Client[], stack: Stack, queue: string, label: string, count: number): Promise<void> {
  const ids = Array.from({ length: count }, (_, i) => `${queue}-${label}-${i}`);
  for (const id of ids) stack.model.script(id, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/park/${id}` } }] }]);
  const runIds: string[] = [];
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; i < ids.length; i = next++) {
        const res = (await call(client, 'start_agent_run', { task: `parked [script:${ids[i]}]`, approval: 'all' })) as { runId: string };
        runIds.push(res.runId);
      }
    }),
  );
  await waitFor(`${count} runs to ask the model`, () => ids.every((id) => stack.model.requests(id).length > 0), 300_000);
  next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let i = next++; i < runIds.length; i = next++) {
        const runId = runIds[i]!;
        await waitFor(`${runId} to park`, async () => (await call(client, 'get_run_status', { runId })).status === 'waiting_for_approval', 60_000);
      }
    }),
  );
}
