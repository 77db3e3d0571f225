// The model call: one chat-completions request per activity attempt. Temporal owns retries,
// so the openai client's own retries are off; heartbeats let cancellation reach the request.
import { ApplicationFailure, Context } from '@temporalio/activity';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import type { AgentToolSpec } from '../shared/agentTools.js';
import type { ChatMessage } from '../shared/contract.js';
import type { ModelCallInput, ModelCallResult } from './types.js';

const HEARTBEAT_EVERY_MS = 2_000;
const NOT_RETRYABLE = new Set([400, 401, 403, 404, 422]);

export interface ModelClientOptions {
  baseURL?: string;
  apiKey?: string;
  /** Specs of the worker's own tools (workspace, MCP servers), looked up by name. */
  toolSpecs?: (names: readonly string[]) => Promise<AgentToolSpec[]>;
}

export function createCallModel(options: ModelClientOptions) {
  const client = new OpenAI({
    baseURL: options.baseURL,
    // Some local endpoints (Ollama, vLLM) need no key; the client insists on one.
    apiKey: options.apiKey ?? 'not-set',
    maxRetries: 0,
    timeout: 4 * 60_000,
  });

  return async function callModel(input: ModelCallInput): Promise<ModelCallResult> {
    const ctx = Context.current();
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      const extra = input.toolNames?.length && options.toolSpecs ? await options.toolSpecs(input.toolNames) : [];
      const tools: ChatCompletionTool[] = [...input.tools, ...extra].map((t) => ({
        type: 'function',
        function: { name: t.name, description: t.description, parameters: t.parameters },
      }));
      const completion = await client.chat.completions.create(
        {
          model: input.model,
          messages: input.messages.map(toOpenAiMessage),
          ...(tools.length ? { tools } : {}),
        },
        { signal: ctx.cancellationSignal },
      );
      const message = completion.choices[0]?.message;
      if (!message) throw ApplicationFailure.retryable('The model endpoint answered with no choices', 'ModelEmptyReply');
      const toolCalls = (message.tool_calls ?? []).flatMap((call, i) =>
        call.type === 'function'
          ? [{ id: call.id || `call_${i}`, name: call.function.name, arguments: call.function.arguments ?? '' }]
          : [],
      );
      return {
        content: message.content ?? null,
        toolCalls,
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      };
    } catch (err) {
      throw classifyModelError(err);
    } finally {
      clearInterval(beat);
    }
  };
}

/** Maps an openai error to a Temporal failure: retry what may heal, stop at once on what will not. */
function classifyModelError(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
    const status = err.status;
    const detail = `model endpoint answered HTTP ${status}: ${err.message}`;
    if (NOT_RETRYABLE.has(status)) return ApplicationFailure.nonRetryable(detail, `ModelHttp${status}`);
    if (status === 429) {
      const headers = err.headers as Headers | undefined;
      const retryAfter = parseRetryAfter(headers?.get('retry-after') ?? null);
      return ApplicationFailure.create({
        message: detail,
        type: 'ModelRateLimited',
        ...(retryAfter !== undefined ? { nextRetryDelay: retryAfter } : {}),
      });
    }
    return ApplicationFailure.retryable(detail, `ModelHttp${status}`);
  }
  if (err instanceof OpenAI.APIUserAbortError) return err;
  if (err instanceof OpenAI.APIConnectionError) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return ApplicationFailure.retryable(`could not reach the model endpoint${cause}`, 'ModelUnreachable');
  }
  return err;
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 600) * 1000;
  const date = Date.parse(value);
  if (Number.isFinite(date)) return Math.min(Math.max(date - Date.now(), 0), 600_000);
  return undefined;
}

function toOpenAiMessage(m: ChatMessage): ChatCompletionMessageParam {
  switch (m.role) {
    case 'system':
    case 'user':
      return { role: m.role, content: m.content };
    case 'tool':
      return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
    case 'assistant':
      return {
        role: 'assistant',
        content: m.content,
        ...(m.toolCalls?.length
          ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: 'function' as const,
                function: { name: c.name, arguments: c.arguments },
              })),
            }
          : {}),
      };
  }
}
