// Types and names shared by the MCP server, the worker and the workflow.
// Workflow code imports this file, so it must stay free of Node built-ins and I/O.

export const RUN_STATUSES = [
  'running',
  'waiting_for_approval',
  'completed',
  'failed',
  'cancelled',
  'timed_out',
] as const;
export type RunStatusName = (typeof RUN_STATUSES)[number];

export type ApprovalMode = 'none' | 'writes' | 'all';

export interface PendingApproval {
  approvalId: string;
  tool: string;
  arguments: unknown;
  summary: string;
  requestedAt: string;
  expiresAt: string;
}

export interface ToolCallRecord {
  tool: string;
  arguments: unknown;
  ok: boolean;
  at: string;
}

export interface Usage {
  llmCalls: number;
  toolCalls: number;
  inputTokens: number;
  outputTokens: number;
}

export interface ChildRun {
  runId: string;
  task: string;
  status: RunStatusName;
}

export interface RunStatus {
  runId: string;
  status: RunStatusName;
  task: string;
  step: number;
  maxSteps: number;
  pendingApprovals: PendingApproval[];
  lastToolCall?: ToolCallRecord;
  usage: Usage;
  result?: string;
  error?: string;
  /** Tools the run asked for but could not get (an MCP server that would not start, a bad config). */
  warnings?: string[];
  /** Set while the agent waits on a durable timer (the `wait` tool). */
  waiting?: { reason: string; until: string };
  /** Sub-agents this run started with `delegate`, each a run of its own. */
  children?: ChildRun[];
  /** Set on a sub-agent's run: the run that delegated to it. */
  parentRunId?: string;
  startedAt: string;
  updatedAt: string;
  closedAt?: string;
  /** The principal that started the run (internal: the server checks it, callers never see it). */
  owner?: string;
}

/** What the MCP server passes to a new run. Never carries secrets. */
export interface AgentRunInput {
  task: string;
  instructions?: string;
  model: string;
  tools: string[];
  approval: ApprovalMode;
  maxSteps: number;
  /** Input plus output tokens the run may spend; absent = no limit. */
  maxTokens?: number;
  timeoutSeconds: number;
  approvalTimeoutSeconds: number;
  startedAt: string;
  /** 0 (or absent) for a run a caller started; 1 and 2 for sub-agents. */
  depth?: number;
  parentRunId?: string;
  /** The principal that started the run (absent on runs started before principals existed). */
  owner?: string;
  /** Tool calls of one model turn executed at once (absent on older runs: the default, 8). */
  maxParallelTools?: number;
  /**
   * Reads (GET/HEAD, workspace reads, read-only MCP tools) run as local activities. Absent on runs
   * started before, which replay with the regular activities they recorded.
   */
  localReads?: boolean;
  /**
   * Set when the server found the DurableAgent* search attributes registered (src/shared/searchAttributes.ts):
   * the run then upserts its status there and gives its sub-agents theirs. Absent on older runs.
   */
  searchAttributes?: true;
  /**
   * The workflow changes this run was started with (PATCH_LEVEL): each patch of that level or below
   * applies without a patch marker, and the toolbox is listed by a local activity. Absent (0) on runs
   * started before, which call patched() and list the toolbox as they recorded.
   */
  patchLevel?: number;
}

/**
 * The patch level new runs start at (see `patchLevel` and PATCHES in agentWorkflow.ts). Raise it when
 * a level's patches may be taken without markers; a run keeps the level it was started with.
 * Level 2: the run records its status in its memo each time it waits outside its workflow task
 * (statusRecord.ts); runs below it never do, since replaying them must issue the commands they did.
 */
export const PATCH_LEVEL = 2;

/** Chat messages as they travel between the workflow and the model activity. */
export interface ToolCallRequest {
  id: string;
  name: string;
  arguments: string;
}
export type ChatMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; toolCalls?: ToolCallRequest[] }
  | { role: 'tool'; toolCallId: string; content: string };

export interface ApprovalDecision {
  approvalId: string;
  decision: 'approve' | 'reject';
  comment?: string;
  /** Who decided: the principal and the MCP client's name (for the history; the workflow ignores it). */
  by?: string;
  /** Through which channel the decision came, e.g. "approve_step". */
  channel?: string;
}

/** Answer of the `approval` query: lets the server reject unknown ids before it signals. */
export interface ApprovalLookup {
  state: 'pending' | 'decided' | 'unknown';
  decision?: 'approve' | 'reject';
  pendingIds: string[];
}

export const MESSAGE_MAX_CHARS = 16_384;

export const WORKFLOW_TYPE = 'agentWorkflow';

/** Limits on what enters workflow history. */
export const OBSERVATION_MAX_CHARS = 16_384;
export const MODEL_TEXT_MAX_CHARS = 32_768;

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}…[truncated ${text.length - max} chars]`;
}

/** The note compactTranscript leaves where it dropped turns (a caller's message must not match it). */
const DROPPED_NOTE = /^\[\d+ earlier messages of this run were dropped/;

/** Most transcript text a run keeps in workflow state; older turns are dropped past it. */
export const TRANSCRIPT_MAX_CHARS = 400_000;

function messageChars(m: ChatMessage): number {
  if (m.role === 'assistant') {
    return (m.content?.length ?? 0) + (m.toolCalls ?? []).reduce((n, c) => n + c.arguments.length + c.name.length, 0);
  }
  return m.content.length;
}

/**
 * Keeps the transcript under `maxChars` by dropping the oldest whole turns (an assistant message
 * with its tool results), so the system prompt, the task and tool-call pairing stay intact.
 * Pure and deterministic: the workflow calls it.
 */
export function compactTranscript(messages: ChatMessage[], maxChars = TRANSCRIPT_MAX_CHARS): ChatMessage[] {
  let total = messages.reduce((n, m) => n + messageChars(m), 0);
  if (total <= maxChars) return messages;
  const head = messages.slice(0, 2); // system + task
  let rest = messages.slice(2);
  let dropped = 0;
  if (rest[0]?.role === 'user' && DROPPED_NOTE.test(rest[0].content)) {
    total -= messageChars(rest[0]);
    rest = rest.slice(1); // an earlier "dropped" note; a new one replaces it
  }
  while (total > maxChars && rest.length > 1) {
    // Drop one turn: the assistant message and the tool results that answer it.
    let end = 1;
    while (end < rest.length && rest[end]!.role === 'tool') end++;
    for (const m of rest.slice(0, end)) total -= messageChars(m);
    dropped += end;
    rest = rest.slice(end);
  }
  const note: ChatMessage = {
    role: 'user',
    content: `[${dropped} earlier messages of this run were dropped to keep it within its memory budget]`,
  };
  return [...head, note, ...rest];
}

/** The statuses a run ends in; it never leaves one. */
export function isClosedStatus(status: RunStatusName): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'timed_out';
}

/** What one timeline entry records. */
export type HistoryEntryKind =
  | 'started'
  | 'llm_turn'
  | 'tool_call'
  | 'retry'
  | 'error'
  | 'approval'
  | 'message'
  | 'cancel_requested'
  | 'continued_as_new'
  | 'closed';

/** One entry of a run's timeline (get_run_history, run://{runId}/history, the run app). */
export interface HistoryEntry {
  at: string;
  kind: HistoryEntryKind;
  summary: string;
  /** Which execution of the run (1, 2, … after each continue-as-new). */
  execution: number;
  tool?: string;
  arguments?: unknown;
  result?: string;
  ok?: boolean;
  attempts?: number;
  durationMs?: number;
  approvalId?: string;
  decision?: string;
  comment?: string;
  /** Who decided, signalled or cancelled: the principal and the MCP client (older runs: the server's identity). */
  by?: string;
  /** How a decision arrived, e.g. "approve_step". */
  channel?: string;
  error?: string;
  usage?: { inputTokens: number; outputTokens: number };
}

/** One run in list_runs (and the run app's list). */
export interface RunSummary {
  runId: string;
  status: RunStatusName;
  task: string;
  startedAt: string;
  closedAt?: string;
  /** Set for a sub-agent started by `delegate`. */
  parentRunId?: string;
}
