// Figure 2, MCP tool latency as a client sees it, over stdio and over Streamable HTTP: each tool
// called one at a time against a server with its own in-process worker.
import type { Client } from '@modelcontextprotocol/client';
import { spawnServer } from '../test/support/mcpStdio.js';
import { call, connectHttp, percentiles, startHttpServer, timed, waitFor, type Percentiles, type Stack } from './support.js';

const SAMPLES = 20;

export type ToolLatency = Record<string, Percentiles>;

export async function measureToolLatency(stack: Stack): Promise<{ stdio: ToolLatency; http: ToolLatency }> {
  const stdioServer = await spawnServer({ args: ['serve', '--no-service'], env: stack.env('bench-latency-stdio') });
  let stdio: ToolLatency;
  try {
    stdio = await measureOver(stdioServer.client, stack, 'stdio');
  } finally {
    await stdioServer.close();
  }
  const httpServer = await startHttpServer(stack.env('bench-latency-http'));
  let http: ToolLatency;
  try {
    const client = await connectHttp(httpServer.url);
    http = await measureOver(client, stack, 'http');
    await client.close();
  } finally {
    await httpServer.stop();
  }
  return { stdio, http };
}

async function measureOver(client: Client, stack: Stack, label: string): Promise<ToolLatency> {
  const samples = new Map<string, number[]>();
  const record = (tool: string, ms: number) => samples.set(tool, [...(samples.get(tool) ?? []), ms]);

  /** Starts runs that stop at their first tool call, waiting for approval; times each start. */
  const startParked = async (prefix: string, timeIt: boolean): Promise<string[]> => {
    const runIds: string[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const id = `lat-${label}-${prefix}-${i}`;
      stack.model.script(id, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/lat/${id}` } }] }, { content: 'done' }]);
      let runId = '';
      const ms = await timed(async () => {
        runId = ((await call(client, 'start_agent_run', { task: `latency [script:${id}]`, approval: 'all' })) as { runId: string }).runId;
      });
      if (timeIt) record('start_agent_run', ms);
      runIds.push(runId);
    }
    for (const runId of runIds) {
      await waitFor(`${runId} to wait for approval`, async () => (await call(client, 'get_run_status', { runId })).status === 'waiting_for_approval', 60_000);
    }
    return runIds;
  };

  // Warm-up (connection, JIT, workflow cache), not counted.
  await startParked('warm', false);

  const parked = await startParked('a', true);
  const approvals: Array<{ runId: string; approvalId: string }> = [];
  for (const runId of parked) {
    let status: Record<string, unknown> = {};
    record('get_run_status (running)', await timed(async () => (status = await call(client, 'get_run_status', { runId }))));
    const pending = status.pendingApprovals as Array<{ approvalId: string }>;
    approvals.push({ runId, approvalId: pending[0]!.approvalId });
  }
  for (const { runId, approvalId } of approvals) {
    record('approve_step', await timed(() => call(client, 'approve_step', { runId, approvalId, decision: 'approve' })));
  }
  for (const runId of parked) {
    for (;;) {
      const s = await call(client, 'get_run_result', { runId, waitSeconds: 30 });
      if (s.status === 'completed') break;
      if (s.status !== 'running' && s.status !== 'waiting_for_approval') throw new Error(`${runId} ended ${String(s.status)}`);
    }
  }
  for (const runId of parked) record('get_run_status (closed)', await timed(() => call(client, 'get_run_status', { runId })));

  const toCancel = await startParked('c', false);
  for (const runId of toCancel) {
    let status: unknown;
    record('cancel_run', await timed(async () => ({ status } = await call(client, 'cancel_run', { runId }))));
    if (status !== 'cancelled') throw new Error(`cancel_run left ${runId} ${String(status)}`);
  }
  for (let i = 0; i < SAMPLES; i++) record('list_runs', await timed(() => call(client, 'list_runs', { limit: 20 })));

  return Object.fromEntries([...samples].map(([tool, list]) => [tool, percentiles(list)]));
}
