// Activity signatures. Workflows import this file for types only.
import type { AgentToolSpec, HttpRequestArgs } from '../shared/agentTools.js';
import type { ChatMessage, ToolCallRequest } from '../shared/contract.js';
import type { Toolbox, ToolCallOutcome } from '../shared/toolbox.js';
import type { McpToolCallInput } from './toolbox.js';
import type { WorkspaceToolInput } from './workspace.js';

export type { McpToolCallInput, WorkspaceToolInput };

export interface ModelCallInput {
  model: string;
  messages: ChatMessage[];
  /** Built-in tools, with their specs. */
  tools: AgentToolSpec[];
  /** The worker's own tools (workspace, MCP servers), by name: their specs stay out of history. */
  toolNames?: string[];
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
  /** What this worker offers beyond http_request. */
  describeToolbox(): Promise<Toolbox>;
  callMcpTool(input: McpToolCallInput): Promise<ToolCallOutcome>;
  workspaceTool(input: WorkspaceToolInput): Promise<ToolCallOutcome>;
}
