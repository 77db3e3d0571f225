// The first read of a closed run (issue 16): get_run_status over stdio, once per run, on runs that
// completed, failed (their maxSteps budget) and were cancelled. The runs are started through the
// server but watched to their close with a separate Temporal client, so the server has no cached
// status for them: every sample is a first read. Kinds are interleaved.
import type { Client } from '@modelcontextprotocol/client';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { spawnServer } from '../test/support/mcpStdio.js';
import { call, percentiles, timed, waitFor, type Percentiles, type Stack } from './support.js';

const PER_KIND = 20;
const KINDS = ['completed', 'failed', 'cancelled'] as const;
type Kind = (typeof KINDS)[number];

export type ClosedReadResult = Record<Kind, Percentiles>;

export async function measureClosedRead(stack: Stack): Promise<ClosedReadResult> {
  const server = await spawnServer({ args: ['serve', '--no-service'], env: stack.env('bench-closed-read') });
  const connection = await Connection.connect({ address: stack.dev.address });
  const temporal = new TemporalClient({ connection });
  try {
    const get = (id: string) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/closed-read/${id}` } }] });
    const start = async (kind: Kind, i: number): Promise<string> => {
      const id = `closed-read-${kind}-${i}`;
      // completed: answers at once; failed: a tool call with maxSteps 1; cancelled: parked on an approval.
      stack.model.script(id, kind === 'completed' ? [{ content: 'done' }] : [get(id)]);
      const args = { task: `closed read [script:${id}]`, approval: kind === 'cancelled' ? 'all' : 'none', ...(kind === 'failed' ? { maxSteps: 1 } : {}) };
      const { runId } = (await call(server.client, 'start_agent_run', args)) as { runId: string };
      if (kind === 'cancelled') {
        await waitFor(`${runId} to ask the model`, () => stack.model.requests(id).length > 0, 60_000);
        await temporal.workflow.getHandle(runId).cancel();
      }
      await temporal.workflow.getHandle(runId).result().catch(() => undefined);
      return runId;
    };
    const runs: Array<{ kind: Kind; runId: string }> = [];
    for (let i = 0; i < PER_KIND; i++) {
      for (const kind of KINDS) runs.push({ kind, runId: await start(kind, i) });
    }
    const samples = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    for (const { kind, runId } of runs) samples.get(kind)!.push(await timed(() => firstRead(server.client, runId, kind)));
    return Object.fromEntries(KINDS.map((k) => [k, percentiles(samples.get(k)!)])) as ClosedReadResult;
  } finally {
    await connection.close();
    await server.close();
  }
}

async function firstRead(client: Client, runId: string, kind: Kind): Promise<void> {
  const status = await call(client, 'get_run_status', { runId });
  if (status.status !== kind) throw new Error(`${runId} read as ${String(status.status)}, expected ${kind}`);
}
