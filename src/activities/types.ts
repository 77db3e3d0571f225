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

/**
 * What a read run as a local activity returns: its result and what it was asked. A local
 * activity's marker in history records the result but not the input, and get_run_history shows both.
 */
export interface ReadOutcome<Input, Result> {
  input: Input;
  result: Result;
}

export interface AgentActivities {
  callModel(input: ModelCallInput): Promise<ModelCallResult>;
  httpRequest(input: HttpRequestInput): Promise<HttpToolResult>;
  /** What this worker offers beyond http_request. */
  describeToolbox(): Promise<Toolbox>;
  callMcpTool(input: McpToolCallInput): Promise<ToolCallOutcome>;
  workspaceTool(input: WorkspaceToolInput): Promise<ToolCallOutcome>;
  // Reads (GET/HEAD, workspace reads, read-only MCP tools): the same calls, run as local activities.
  readHttp(input: HttpRequestInput): Promise<ReadOutcome<HttpRequestInput, HttpToolResult>>;
  readMcpTool(input: McpToolCallInput): Promise<ReadOutcome<McpToolCallInput, ToolCallOutcome>>;
  readWorkspace(input: WorkspaceToolInput): Promise<ReadOutcome<WorkspaceToolInput, ToolCallOutcome>>;
}
