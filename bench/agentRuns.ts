// What the agent figures share (1, 8 and 9): one scripted task run either (a) durably, through the
// real MCP server over stdio and its worker, or (b) as a plain in-process loop calling the very same
// activity functions, the calls of a turn at once as in-process agent loops do; and the a/b/a/b
// interleaving, so that drift of the machine hits both sides alike.
import { MockActivityEnvironment } from '@temporalio/testing';
import { createCallModel } from '../src/activities/callModel.js';
import { NO_RULES, parseHttpRules } from '../src/activities/addressPolicy.js';
import { createHttpRequest } from '../src/activities/httpRequest.js';
import type { HttpToolResult, ModelCallResult } from '../src/activities/types.js';
import { AGENT_TOOLS, parseHttpRequestArgs } from '../src/shared/agentTools.js';
import type { ChatMessage } from '../src/shared/contract.js';
import type { Step, ToolCallSpec } from '../test/support/modelServer.js';
import { spawnServer } from '../test/support/mcpStdio.js';
import { call, percentiles, type Percentiles, type Stack } from './support.js';

/** The final answer every bench script ends with, checked on both sides. */
export const answerOf = (id: string) => `done ${id}`;
const taskOf = (label: string, id: string) => `${label} [script:${id}]`;

export const get = (url: string): ToolCallSpec => ({ name: 'http_request', arguments: { method: 'GET', url } });

/** Hooks on the model server's side of each model call `n` (0-based), for timing a turn from outside the run. */
export interface ModelCallObserver {
  /** The request arrived (before any think time). */
  arrived?(n: number): void;
  /** The reply is about to be written (after the think time). */
  replying?(n: number): void;
}

/**
 * A script of one model call per entry of `turns` (asking for those tool calls), then the final
 * answer, each reply after `thinkMs` of model think time.
 */
export function agentScript(id: string, turns: ToolCallSpec[][], thinkMs = 0, observe: ModelCallObserver = {}): Step[] {
  const replies: Step[] = [...turns.map((toolCalls): Step => ({ toolCalls })), { content: answerOf(id) }];
  return replies.map((reply, n): Step => () => {
    observe.arrived?.(n);
    const send: Step = () => {
      observe.replying?.(n);
      return reply;
    };
    return thinkMs > 0 ? { delayMs: thinkMs, then: send } : send;
  });
}

export interface DurableRunner {
  /** Starts the task of `script` through MCP and waits for its answer; ms from start_agent_run to the answer. */
  run(id: string, script: Step[]): Promise<{ ms: number; runId: string }>;
  /** DURABLE_AGENT_MAX_PARALLEL_TOOLS as the server got it; undefined = the server's default. */
  maxParallelTools: string | undefined;
  close(): Promise<void>;
}

/**
 * `serve --no-service` over stdio with its own worker, as an MCP client spawns it. Its environment
 * is the bench's own, so `DURABLE_AGENT_MAX_PARALLEL_TOOLS=1 npm run bench` measures calls in a row.
 */
export async function startDurableRunner(stack: Stack, label: string): Promise<DurableRunner> {
  const env = stack.env(`bench-${label}`);
  const server = await spawnServer({ args: ['serve', '--no-service'], env });
  return {
    maxParallelTools: env.DURABLE_AGENT_MAX_PARALLEL_TOOLS,
    async run(id, script) {
      stack.model.script(id, script);
      const t0 = performance.now();
      const { runId } = (await call(server.client, 'start_agent_run', { task: taskOf(label, id), approval: 'none' })) as { runId: string };
      for (;;) {
        const s = await call(server.client, 'get_run_result', { runId, waitSeconds: 50 });
        if (s.status === 'running' || s.status === 'waiting_for_approval') continue;
        if (s.status !== 'completed' || s.result !== answerOf(id)) throw new Error(`durable run ${id} ended ${String(s.status)}: ${JSON.stringify(s)}`);
        return { ms: performance.now() - t0, runId };
      }
    },
    close: () => server.close(),
  };
}

/** The in-process loop: the worker's activity functions called directly, each in an activity context of its own. */
export function plainRunner(stack: Stack, label: string): (id: string, script: Step[]) => Promise<number> {
  const callModel = createCallModel({ baseURL: stack.model.baseUrl, apiKey: 'bench' });
  const httpRequest = createHttpRequest({ allow: parseHttpRules(['127.0.0.1']), deny: NO_RULES });
  const runCall = (input: Parameters<typeof httpRequest>[0]): Promise<HttpToolResult> => new MockActivityEnvironment().run(httpRequest, input);
  // Bounded like the durable run's default maxSteps, so a broken script fails instead of looping.
  const maxTurns = 25;
  return async (id, script) => {
    stack.model.script(id, script);
    const t0 = performance.now();
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a careful autonomous agent.' },
      { role: 'user', content: taskOf(label, id) },
    ];
    for (let step = 1; step <= maxTurns; step++) {
      const reply: ModelCallResult = await new MockActivityEnvironment().run(callModel, { model: 'bench-model', messages, tools: [...AGENT_TOOLS] });
      messages.push({ role: 'assistant', content: reply.content, ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}) });
      if (reply.toolCalls.length === 0) {
        if (reply.content !== answerOf(id)) throw new Error(`plain run ${id} answered ${reply.content}`);
        return performance.now() - t0;
      }
      const responses = await Promise.all(
        reply.toolCalls.map((toolCall, index) => {
          const parsed = parseHttpRequestArgs(JSON.parse(toolCall.arguments));
          if (!parsed.ok) throw new Error(parsed.error);
          return runCall({ args: parsed.args, idempotencyKey: `plain-${id}/${step}-${index}` });
        }),
      );
      // In the model's order, as the workflow does.
      for (const [index, toolCall] of reply.toolCalls.entries()) {
        messages.push({ role: 'tool', toolCallId: toolCall.id, content: JSON.stringify(responses[index]) });
      }
    }
    throw new Error(`plain run ${id} did not finish in ${maxTurns} turns`);
  };
}

/**
 * One warm-up of each side (connections, JIT, the worker's workflow cache; not counted), then
 * `rounds` rounds of a then b. Each side gets its round number and returns its sample.
 */
export async function interleave<A, B>(rounds: number, a: (round: number | 'warm') => Promise<A>, b: (round: number | 'warm') => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  await a('warm');
  await b('warm');
  const out: { a: A[]; b: B[] } = { a: [], b: [] };
  for (let i = 0; i < rounds; i++) {
    out.a.push(await a(i));
    out.b.push(await b(i));
  }
  return out;
}

export interface Comparison {
  durableMs: Percentiles;
  plainMs: Percentiles;
  /** durable p50 / plain p50. */
  ratio: number;
  maxParallelTools: string | undefined;
}

/** The same script (per run id) as a durable run and in-process, interleaved; whole-run wall times. */
export async function compareDurableAndPlain(stack: Stack, label: string, rounds: number, script: (id: string) => Step[]): Promise<Comparison> {
  const durable = await startDurableRunner(stack, label);
  const plain = plainRunner(stack, label);
  try {
    const samples = await interleave(
      rounds,
      async (round) => (await durable.run(`${label}-d-${round}`, script(`${label}-d-${round}`))).ms,
      (round) => plain(`${label}-p-${round}`, script(`${label}-p-${round}`)),
    );
    const durableMs = percentiles(samples.a);
    const plainMs = percentiles(samples.b);
    return { durableMs, plainMs, ratio: durableMs.p50 / plainMs.p50, maxParallelTools: durable.maxParallelTools };
  } finally {
    await durable.close();
  }
}
