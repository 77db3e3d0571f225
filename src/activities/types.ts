// Activity signatures. Workflows import this file for types only.
import type { AgentToolSpec, HttpRequestArgs } from '../shared/agentTools.js';
import type { ChatMessage, ToolCallRequest } from '../shared/contract.js';

export interface ModelCallInput {
  model: string;
  messages: ChatMessage[];
  tools: AgentToolSpec[];
}

export interface ModelCallResult {
  content: string | null;
  toolCalls: ToolCallRequest[];
  inputTokens: number;
  outputTokens: number;
}

export interface HttpRequestInput {
  args: HttpRequestArgs;
  /** Same on every retry and after every crash, different for every call. */
  idempotencyKey: string;
}

export interface HttpToolResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface AgentActivities {
  callModel(input: ModelCallInput): Promise<ModelCallResult>;
  httpRequest(input: HttpRequestInput): Promise<HttpToolResult>;
}
