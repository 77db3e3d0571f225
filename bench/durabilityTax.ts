// Figure 1, the durability tax: one 10-step task (a model turn and an http_request GET per step,
// then a final answer) run (a) as a durable run through the MCP server (stdio) and its worker, and
// (b) as a plain in-process loop calling the very same activity functions, interleaved a/b/a/b.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCallModel } from '../src/activities/callModel.js';
import { NO_RULES, parseHttpRules } from '../src/activities/addressPolicy.js';
import { createHttpRequest } from '../src/activities/httpRequest.js';
import type { ModelCallResult } from '../src/activities/types.js';
import { AGENT_TOOLS, parseHttpRequestArgs } from '../src/shared/agentTools.js';
import type { ChatMessage } from '../src/shared/contract.js';
import { spawnServer } from '../test/support/mcpStdio.js';
import { call, percentiles, type Percentiles, type Stack } from './support.js';

const STEPS = 10;
const ROUNDS = 10;

export interface TaxResult {
  steps: number;
  rounds: number;
  durableMs: Percentiles;
  plainMs: Percentiles;
  ratio: number;
  overheadPerStepMs: number;
}

export async function measureDurabilityTax(stack: Stack): Promise<TaxResult> {
  const script = (id: string) =>
    stack.model.script(id, [
      ...Array.from({ length: STEPS }, (_, s) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/tax/${id}/${s}` } }] })),
      { content: `done ${id}` },
    ]);

  const server = await spawnServer({ args: ['serve', '--no-service'], env: stack.env('bench-tax') });
  const durable = async (id: string): Promise<number> => {
    script(id);
    const t0 = performance.now();
    const { runId } = (await call(server.client, 'start_agent_run', { task: `tax [script:${id}]`, approval: 'none' })) as { runId: string };
    for (;;) {
      const s = await call(server.client, 'get_run_result', { runId, waitSeconds: 50 });
      if (s.status === 'running' || s.status === 'waiting_for_approval') continue;
      if (s.status !== 'completed' || s.result !== `done ${id}`) throw new Error(`durable run ${id} ended ${String(s.status)}: ${JSON.stringify(s)}`);
      return performance.now() - t0;
    }
  };

  // The same activity functions the worker runs, called directly, each in an activity context of its own.
  const callModel = createCallModel({ baseURL: stack.model.baseUrl, apiKey: 'bench' });
  const httpRequest = createHttpRequest({ allow: parseHttpRules(['127.0.0.1']), deny: NO_RULES });
  const plain = async (id: string): Promise<number> => {
    script(id);
    const t0 = performance.now();
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a careful autonomous agent.' },
      { role: 'user', content: `tax [script:${id}]` },
    ];
    for (let step = 1; step <= STEPS + 1; step++) {
      const reply: ModelCallResult = await new MockActivityEnvironment().run(callModel, { model: 'bench-model', messages, tools: [...AGENT_TOOLS] });
      messages.push({ role: 'assistant', content: reply.content, ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}) });
      if (reply.toolCalls.length === 0) {
        if (reply.content !== `done ${id}`) throw new Error(`plain run ${id} answered ${reply.content}`);
        return performance.now() - t0;
      }
      for (const [index, toolCall] of reply.toolCalls.entries()) {
        const parsed = parseHttpRequestArgs(JSON.parse(toolCall.arguments));
        if (!parsed.ok) throw new Error(parsed.error);
        const response = await new MockActivityEnvironment().run(httpRequest, { args: parsed.args, idempotencyKey: `plain-${id}/${step}-${index}` });
        messages.push({ role: 'tool', toolCallId: toolCall.id, content: JSON.stringify(response) });
      }
    }
    throw new Error(`plain run ${id} did not finish in ${STEPS + 1} turns`);
  };

  try {
    // Warm-up: connections, JIT and the worker's workflow cache; not counted.
    await durable('tax-warm-d');
    await plain('tax-warm-p');
    const durableMs: number[] = [];
    const plainMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      durableMs.push(await durable(`tax-d-${i}`));
      plainMs.push(await plain(`tax-p-${i}`));
    }
    const d = percentiles(durableMs);
    const p = percentiles(plainMs);
    return { steps: STEPS, rounds: ROUNDS, durableMs: d, plainMs: p, ratio: d.p50 / p.p50, overheadPerStepMs: (d.p50 - p.p50) / STEPS };
  } finally {
    await server.close();
  }
}
