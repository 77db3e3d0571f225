// The agent loop as a Temporal workflow: deterministic, no I/O. Every model call and tool call
// is an activity; approvals arrive as signals; status is answered by a query.
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  startChild,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
} from '@temporalio/workflow';
import type { AgentActivities, HttpRequestInput, HttpToolResult } from '../activities/types.js';
import {
  AGENT_TOOLS,
  DELEGATE_MAX_STEPS,
  isDressedWrite,
  isWriteCall,
  MAX_DELEGATION_DEPTH,
  parseHttpRequestArgs,
  summarizeCall,
  WAIT_MAX_SECONDS,
} from '../shared/agentTools.js';
import {
  isMcpToolName,
  parseToolArguments,
  summarizeToolCall,
  toolAllowed,
  WORKSPACE_TOOL_NAMES,
  type ToolboxEntry,
  type ToolCallOutcome,
} from '../shared/toolbox.js';
import {
  compactTranscript,
  MESSAGE_MAX_CHARS,
  MODEL_TEXT_MAX_CHARS,
  OBSERVATION_MAX_CHARS,
  truncate,
  type AgentRunInput,
  type ApprovalDecision,
  type ChatMessage,
  type ChildRun,
  type PendingApproval,
  type RunStatus,
  type RunStatusName,
  type ToolCallRecord,
  type ToolCallRequest,
  type Usage,
} from '../shared/contract.js';
import { approvalQuery, decideSignal, messageSignal, statusQuery } from '../shared/runMessages.js';
import { newRunSearchAttributes, runStatusUpdate } from '../shared/searchAttributes.js';
import { MEMO_TASK_CHARS, STATUS_RECORD_MEMO_KEY, statusRecordOf } from '../shared/statusRecord.js';

// Activities heartbeat every 2 s; a call whose worker died is retried elsewhere after this long.
const HEARTBEAT_TIMEOUT = '10 seconds';

const { callModel } = proxyActivities<AgentActivities>({
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
});

// Timeouts and retries of each kind of tool call, the same whether it runs as a regular activity or,
// for a read, as a local one (below).
const HTTP_CALL = {
  startToCloseTimeout: '45 seconds',
  scheduleToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 4 },
} as const;
const MCP_CALL = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '15 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '20 seconds', maximumAttempts: 4 },
} as const;
const WORKSPACE_CALL = {
  startToCloseTimeout: '60 seconds',
  scheduleToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4 },
} as const;

const { httpRequest } = proxyActivities<AgentActivities>({ ...HTTP_CALL, heartbeatTimeout: HEARTBEAT_TIMEOUT });

/**
 * Workflow changes that alter the commands a run issues are guarded by `patched()`, so runs
 * started by older code replay unchanged (see "Changing the workflow" in the README). Each id is
 * kept until no run recorded without it can still be open. A run whose input carries a patchLevel
 * at or above a patch's level (PATCH_LEVELS) takes the change without asking patched(): no marker,
 * and no TemporalChangeVersion search attribute update, per patch per run.
 */
export const PATCHES = {
  /** v2: the step count is in the memo, so status without a worker shows progress. */
  stepInMemo: 'step-in-memo',
  /** v3: a run asks the worker for its toolbox (workspace, MCP servers) before the first turn. */
  toolbox: 'toolbox',
  /** A sub-agent gets at most the parent's remaining steps and tokens, and its usage counts in the parent's. */
  delegateBudget: 'delegate-budget',
  /** v4: a GET/HEAD with a body or a method-override header is a write (gated under "writes"). */
  dressedWrites: 'dressed-writes',
  /** v5: the tool calls of one turn run at once (up to maxParallelTools); gated ones are asked together. */
  parallelTools: 'parallel-tools',
} as const;

/** The patch level (AgentRunInput.patchLevel) from which each patch applies without a marker. */
const PATCH_LEVELS: Record<(typeof PATCHES)[keyof typeof PATCHES], number> = {
  'step-in-memo': 1,
  toolbox: 1,
  'delegate-budget': 1,
  'dressed-writes': 1,
  'parallel-tools': 1,
};

/** Tool calls of one turn run at once when the run's input does not say (runs started before the setting). */
const DEFAULT_MAX_PARALLEL_TOOLS = 8;

const TOOLBOX_CALL = {
  startToCloseTimeout: '90 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3 },
} as const;
// Runs below patch level 1 list the toolbox with a regular activity: a local activity's marker
// between two patch markers of one workflow task made a restarted worker fail replay with a
// non-determinism error. From level 1 a run records no patch markers, and lists it locally, in the
// first workflow task: one trip through the server's task queues fewer per run.
const { describeToolbox } = proxyActivities<AgentActivities>(TOOLBOX_CALL);
const { describeToolbox: describeToolboxLocally } = proxyLocalActivities<AgentActivities>(TOOLBOX_CALL);

const { callMcpTool } = proxyActivities<AgentActivities>({ ...MCP_CALL, heartbeatTimeout: HEARTBEAT_TIMEOUT });

const { workspaceTool } = proxyActivities<AgentActivities>(WORKSPACE_CALL);

// Reads run as local activities, inside the workflow task that asked for them: no trip through the
// server's task queues per read (see BENCHMARKS.md). A read has no side effect, so one cut off by a
// worker crash simply runs again; writes stay regular activities, recorded once done.
const { readHttp } = proxyLocalActivities<AgentActivities>(HTTP_CALL);
const { readMcpTool } = proxyLocalActivities<AgentActivities>(MCP_CALL);
const { readWorkspace } = proxyLocalActivities<AgentActivities>(WORKSPACE_CALL);

/** A workspace or MCP tool call; a read runs as a local activity when the run says so. */
async function toolboxCall(tool: string, args: Record<string, unknown>, idempotencyKey: string, asLocalRead: boolean): Promise<ToolCallOutcome> {
  const workspace = WORKSPACE_TOOL_NAMES.includes(tool);
  if (asLocalRead) {
    return workspace
      ? (await readWorkspace({ tool, args, idempotencyKey })).result
      : (await readMcpTool({ name: tool, args, idempotencyKey })).result;
  }
  return workspace ? workspaceTool({ tool, args, idempotencyKey }) : callMcpTool({ name: tool, args, idempotencyKey });
}

/** An http_request; a read runs as a local activity when the run says so. */
async function httpCall(request: HttpRequestInput, asLocalRead: boolean): Promise<HttpToolResult> {
  return asLocalRead ? (await readHttp(request)).result : httpRequest(request);
}

/** State carried across continue-as-new so the run looks like one run to callers. */
export interface CarriedState {
  step: number;
  usage: Usage;
  messages: ChatMessage[];
  lastToolCall?: ToolCallRecord;
  decided: Record<string, 'approve' | 'reject'>;
  toolbox?: ToolboxEntry[];
  warnings?: string[];
  inbox?: string[];
  children?: ChildRun[];
}

export interface RunOutcome {
  status: RunStatusName;
  result?: string;
  snapshot: RunStatus;
}

export async function agentWorkflow(input: AgentRunInput, carried?: CarriedState): Promise<RunOutcome> {
  const runId = workflowInfo().workflowId;
  const startedMs = Date.parse(input.startedAt);
  const deadlineMs = startedMs + input.timeoutSeconds * 1000;

  let step = carried?.step ?? 0;
  const usage: Usage = carried?.usage ?? { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 };
  let messages: ChatMessage[] = carried?.messages ?? initialMessages(input);
  let lastToolCall = carried?.lastToolCall;
  const decided: Record<string, 'approve' | 'reject'> = carried?.decided ?? {};
  let toolbox: ToolboxEntry[] = carried?.toolbox ?? [];
  let warnings: string[] = carried?.warnings ?? [];
  /** Caller messages (send_message) not yet shown to the model. */
  const inbox: string[] = carried?.inbox ?? [];
  const children: ChildRun[] = carried?.children ?? [];
  const depth = input.depth ?? 0;
  const pending = new Map<string, PendingApproval>();
  let waiting: { reason: string; until: string } | undefined;
  const decisions = new Map<string, ApprovalDecision>();
  let updatedAt = nowIso();
  const maxParallelTools = input.maxParallelTools ?? DEFAULT_MAX_PARALLEL_TOOLS;
  /** Tool executions (activities, sub-agents) in flight in this turn; at most maxParallelTools. */
  let toolsRunning = 0;
  /** Steps and tokens promised to sub-agents still running, so siblings of one turn cannot overspend. */
  const reserved = { steps: 0, tokens: 0 };
  /** Runs started before local reads replay with the regular activities they recorded. */
  const readsAreLocal = input.localReads === true;
  const patchLevel = input.patchLevel ?? 0;
  /** Whether a patched change applies: by the run's patch level, or else as patched() recorded it. */
  const applies = (patch: keyof typeof PATCHES): boolean => patchLevel >= PATCH_LEVELS[PATCHES[patch]] || patched(PATCHES[patch]);

  const snapshot = (status: RunStatusName, extra: Partial<RunStatus> = {}): RunStatus => ({
    runId,
    status,
    task: input.task,
    step,
    maxSteps: input.maxSteps,
    pendingApprovals: [...pending.values()],
    ...(lastToolCall ? { lastToolCall } : {}),
    usage: { ...usage },
    ...(warnings.length ? { warnings: [...warnings] } : {}),
    ...(waiting ? { waiting } : {}),
    ...(children.length ? { children: children.map((c) => ({ ...c })) } : {}),
    ...(input.parentRunId ? { parentRunId: input.parentRunId } : {}),
    startedAt: input.startedAt,
    updatedAt,
    ...(input.owner ? { owner: input.owner } : {}),
    ...extra,
  });

  setHandler(statusQuery, () => snapshot(pending.size > 0 ? 'waiting_for_approval' : 'running'));
  setHandler(approvalQuery, (approvalId: string) => {
    const pendingIds = [...pending.keys()];
    if (pending.has(approvalId)) return { state: 'pending', pendingIds };
    const decision = decided[approvalId];
    if (decision) return { state: 'decided', decision, pendingIds };
    return { state: 'unknown', pendingIds };
  });
  setHandler(decideSignal, (d: ApprovalDecision) => {
    // Only the first decision for a pending approval counts; repeats are harmless.
    if (pending.has(d.approvalId) && !decisions.has(d.approvalId)) decisions.set(d.approvalId, d);
  });
  setHandler(messageSignal, (text: string) => {
    inbox.push(truncate(text, MESSAGE_MAX_CHARS));
  });

  const touch = () => {
    updatedAt = nowIso();
  };
  /** Runs from patch level 2 record their status in the memo each time they wait outside their workflow task. */
  const recordsStatus = patchLevel >= 2;
  let lastRecord = '';
  /** The memo field that records the status, if it changed since it was last recorded (see statusRecord.ts). */
  const statusRecordField = (): Record<string, unknown> => {
    if (!recordsStatus) return {};
    const record = statusRecordOf(snapshot('running'));
    const text = JSON.stringify(record);
    if (text === lastRecord) return {};
    lastRecord = text;
    return { [STATUS_RECORD_MEMO_KEY]: record };
  };
  let recordQueued = false;
  /**
   * Records the status once the code this activation woke has run: the calls of a turn that start
   * together (or end together) make one record, of them all.
   */
  const recordSoon = () => {
    if (recordQueued) return;
    recordQueued = true;
    void Promise.resolve().then(() => {
      recordQueued = false;
      const field = statusRecordField();
      if (Object.keys(field).length) upsertMemo(field);
    });
  };
  /** How many awaits of this run are outside its workflow task right now; see `outside`. */
  let waitingOutside = 0;
  /**
   * Awaits something outside this workflow task: a regular activity, a sub-agent, a timer, a human.
   * The status is recorded first, so while the run waits a server can answer from the record when its
   * status query is held behind a busy worker. Local reads run inside the task and are not awaited here.
   * Below patch level 2 it is the bare wait: the same promise, so replay sees the same ordering.
   */
  const outside = <T>(wait: () => Promise<T>): Promise<T> => {
    if (!recordsStatus) return wait();
    recordSoon();
    waitingOutside += 1;
    return wait().finally(() => {
      waitingOutside -= 1;
    });
  };
  // The memo is what Temporal can tell without a worker: list filters, approve_step and status reads use it.
  const setVisibleStatus = (status: 'running' | 'waiting_for_approval') => {
    upsertMemo({ agentStatus: status, pendingApprovalIds: [...pending.keys()], ...statusRecordField() });
    // Only where the server found the attribute registered (an unknown one fails the task); runs
    // recorded without the flag issue the same commands as before.
    if (input.searchAttributes) upsertSearchAttributes(runStatusUpdate(status));
  };

  const fail = (message: string, type: string): never => {
    touch();
    throw ApplicationFailure.create({
      type,
      message,
      nonRetryable: true,
      details: [snapshot('failed', { error: message })],
    });
  };

  if (!carried && wantsToolbox(input.tools) && applies('toolbox')) {
    try {
      const offered = patchLevel >= 1 ? await describeToolboxLocally() : await describeToolbox(); // see TOOLBOX_CALL
      toolbox = offered.tools.filter((t) => toolAllowed(t.name, input.tools));
      warnings = offered.unavailable.map((u) =>
        u.server === '(config)' ? u.error : `MCP server "${u.server}" is unavailable: ${u.error}`,
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      warnings = [`The worker could not list its tools: ${describeFailure(err)}`];
    }
  }
  const builtInTools = AGENT_TOOLS.filter(
    (t) => toolAllowed(t.name, input.tools) && (t.name !== 'delegate' || depth < MAX_DELEGATION_DEPTH),
  );
  const offers = (name: string) => builtInTools.some((t) => t.name === name);

  while (step < input.maxSteps) {
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      const next: CarriedState = {
        step,
        usage,
        messages,
        decided,
        ...(lastToolCall ? { lastToolCall } : {}),
        ...(toolbox.length ? { toolbox } : {}),
        ...(warnings.length ? { warnings } : {}),
        ...(inbox.length ? { inbox } : {}),
        ...(children.length ? { children } : {}),
      };
      await continueAsNew<typeof agentWorkflow>(input, next);
    }
    if (input.maxTokens !== undefined && usage.inputTokens + usage.outputTokens >= input.maxTokens) {
      return fail(
        `The run used ${usage.inputTokens + usage.outputTokens} tokens, reaching its maxTokens budget of ${input.maxTokens}.`,
        'MaxTokensExceeded',
      );
    }
    // Guidance the caller sent (send_message) reaches the model before its next turn.
    for (const text of inbox.splice(0)) messages.push({ role: 'user', content: `[Message from the person who started this run] ${text}` });
    step += 1;
    touch();
    if (applies('stepInMemo')) upsertMemo({ agentStep: step, ...statusRecordField() });
    let reply;
    try {
      reply = await outside(() =>
        callModel({
          model: input.model,
          messages,
          tools: builtInTools,
          ...(toolbox.length ? { toolNames: toolbox.map((t) => t.name) } : {}),
        }),
      );
    } catch (err) {
      if (isCancellation(err)) throw err;
      return fail(`The model call failed: ${describeFailure(err)}`, 'ModelCallFailed');
    }
    usage.llmCalls += 1;
    usage.inputTokens += reply.inputTokens;
    usage.outputTokens += reply.outputTokens;
    const content = reply.content === null ? null : truncate(reply.content, MODEL_TEXT_MAX_CHARS);
    messages.push({ role: 'assistant', content, ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}) });
    touch();

    if (reply.toolCalls.length === 0) {
      const result = content ?? '';
      return { status: 'completed', result, snapshot: snapshot('completed', { result }) };
    }

    // patched() only for a turn of several calls, so histories of one-call turns carry no marker.
    const calls = reply.toolCalls;
    const concurrent = calls.length > 1 && applies('parallelTools');
    const observations: string[] = [];
    if (concurrent) {
      // Each call is its own observation (failures and refusals included); only cancellation throws,
      // and then the run's cancellation reaches every call still in flight.
      const observed = calls.map((call, index) => {
        const observation = runToolCall(call, `${step}-${index}`);
        if (!recordsStatus) return observation;
        // The workflow task that saw this call end goes on waiting for its siblings: record that.
        return observation.then((text) => {
          if (waitingOutside > 0) recordSoon();
          return text;
        });
      });
      observations.push(...(await Promise.all(observed)));
    } else {
      for (const [index, call] of calls.entries()) observations.push(await runToolCall(call, `${step}-${index}`));
    }
    // The model reads the observations in the order it asked for the calls.
    for (const [index, call] of calls.entries()) {
      messages.push({ role: 'tool', toolCallId: call.id, content: truncate(observations[index] ?? '', OBSERVATION_MAX_CHARS) });
    }
    touch();
    messages = compactTranscript(messages);
  }
  return fail(
    `The run used all ${input.maxSteps} steps (maxSteps) without a final answer from the model.`,
    'MaxStepsExceeded',
  );

  async function runToolCall(call: ToolCallRequest, callId: string): Promise<string> {
    if (call.name === 'http_request' && offers(call.name)) return runHttpRequest(call, callId);
    if (call.name === 'wait' && offers(call.name)) return runWait(call, callId);
    if (call.name === 'delegate' && offers(call.name)) return runDelegate(call, callId);
    const entry = toolbox.find((t) => t.name === call.name);
    if (!entry) {
      const known = [...builtInTools.map((t) => t.name), ...toolbox.map((t) => t.name)].join(', ') || 'none';
      return observe(call.name, call.arguments, false, `Error: unknown tool "${call.name}". Available tools: ${known}.`);
    }
    const parsed = parseToolArguments(call.name, call.arguments);
    if (!parsed.ok) return observe(call.name, call.arguments, false, parsed.error);
    const args = parsed.args;
    const refusal = await gate(callId, call.name, args, summarizeToolCall(call.name, args), !entry.readOnly);
    if (refusal) return observe(call.name, args, false, refusal);

    usage.toolCalls += 1;
    const idempotencyKey = `${runId}/${callId}`;
    let outcome: ToolCallOutcome;
    try {
      const local = entry.readOnly && readsAreLocal;
      outcome = await withToolSlot(() => toolboxCall(call.name, args, idempotencyKey, local), local);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return observe(call.name, args, false, `Error: ${call.name} failed: ${describeFailure(err)}`);
    }
    return observe(call.name, args, outcome.ok, outcome.text);
  }

  async function runHttpRequest(call: ToolCallRequest, callId: string): Promise<string> {
    let raw: unknown;
    try {
      raw = JSON.parse(call.arguments || '{}');
    } catch {
      return observe(call.name, call.arguments, false, `Error: the arguments for ${call.name} are not valid JSON. Send a JSON object.`);
    }
    const parsed = parseHttpRequestArgs(raw);
    if (!parsed.ok) return observe(call.name, raw, false, `Error: invalid arguments for ${call.name}: ${parsed.error}.`);
    const args = parsed.args;
    // patched() only for a dressed write, so histories without one replay with no marker.
    const isWrite = isDressedWrite(args) ? applies('dressedWrites') : isWriteCall(call.name, args);
    const refusal = await gate(callId, call.name, args, summarizeCall(call.name, args), isWrite);
    if (refusal) return observe(call.name, args, false, refusal);

    usage.toolCalls += 1;
    let response: HttpToolResult;
    try {
      const request = { args, idempotencyKey: `${runId}/${callId}` };
      const local = !isWrite && readsAreLocal;
      response = await withToolSlot(() => httpCall(request, local), local);
    } catch (err) {
      if (isCancellation(err)) throw err;
      return observe(call.name, args, false, `Error: ${call.name} failed: ${describeFailure(err)}`);
    }
    return observe(call.name, args, response.status < 400, JSON.stringify(response));
  }

  /** The `wait` tool: a durable timer inside the run's deadline; a caller message ends it early. */
  async function runWait(call: ToolCallRequest, callId: string): Promise<string> {
    const parsed = parseToolArguments(call.name, call.arguments);
    if (!parsed.ok) return observe(call.name, call.arguments, false, parsed.error);
    const { seconds, reason } = parsed.args;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > WAIT_MAX_SECONDS) {
      return observe(call.name, parsed.args, false, `Error: "seconds" must be a whole number from 1 to ${WAIT_MAX_SECONDS}.`);
    }
    const why = typeof reason === 'string' && reason.trim() ? reason.trim().slice(0, 300) : 'no reason given';
    const refusal = await gate(callId, call.name, parsed.args, `wait ${seconds} s: ${why}`, false);
    if (refusal) return observe(call.name, parsed.args, false, refusal);
    // Leave a minute of the run's time for the turn after the wait.
    const room = deadlineMs - nowMs() - 60_000;
    if (room < 1_000) return observe(call.name, parsed.args, false, 'Not waited: the run has less than a minute of its time budget left.');
    const ms = Math.min(seconds * 1000, room);
    const mine = { reason: why, until: new Date(nowMs() + ms).toISOString() };
    waiting = mine;
    touch();
    let woken: boolean;
    try {
      woken = await outside(() => condition(() => inbox.length > 0, ms));
    } finally {
      if (waiting === mine) waiting = undefined; // a wait of the same turn may have taken its place
      touch();
    }
    const capped = ms < seconds * 1000 ? ` (cut to ${Math.round(ms / 1000)} s by the run's deadline)` : '';
    return observe(
      call.name,
      parsed.args,
      true,
      woken ? 'Woke early: a message from the person who started this run arrived.' : `Waited ${Math.round(ms / 1000)} s${capped}.`,
    );
  }

  /**
   * `delegate`: a sub-agent as a child workflow with its own task, tools and budget. It is a run of
   * its own (list_runs shows it), obeys the same approval mode, and is cancelled with this run.
   */
  async function runDelegate(call: ToolCallRequest, callId: string): Promise<string> {
    const parsed = parseToolArguments(call.name, call.arguments);
    if (!parsed.ok) return observe(call.name, call.arguments, false, parsed.error);
    const { task, tools, maxSteps } = parsed.args;
    if (typeof task !== 'string' || !task.trim()) return observe(call.name, parsed.args, false, 'Error: "task" must describe the sub-task.');
    if (tools !== undefined && (!Array.isArray(tools) || !tools.every((t) => typeof t === 'string'))) {
      return observe(call.name, parsed.args, false, 'Error: "tools" must be an array of tool names.');
    }
    if (maxSteps !== undefined && (typeof maxSteps !== 'number' || !Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > DELEGATE_MAX_STEPS)) {
      return observe(call.name, parsed.args, false, `Error: "maxSteps" must be a whole number from 1 to ${DELEGATE_MAX_STEPS}.`);
    }
    // A sub-agent spends from this run's budget, never beyond it.
    const budgeted = applies('delegateBudget');
    let childMaxSteps = typeof maxSteps === 'number' ? maxSteps : 10;
    let childMaxTokens: number | undefined;
    if (budgeted) {
      // What sibling sub-agents of this turn were promised is not left to give.
      const stepsLeft = input.maxSteps - step - reserved.steps;
      if (stepsLeft < 1) return observe(call.name, parsed.args, false, 'Not delegated: this run has no model turns (maxSteps) left to give a sub-agent.');
      childMaxSteps = Math.min(childMaxSteps, stepsLeft);
      if (input.maxTokens !== undefined) {
        childMaxTokens = input.maxTokens - usage.inputTokens - usage.outputTokens - reserved.tokens;
        if (childMaxTokens < 1) return observe(call.name, parsed.args, false, 'Not delegated: this run has no tokens (maxTokens) left to give a sub-agent.');
      }
    }
    const promised = { steps: budgeted ? childMaxSteps : 0, tokens: childMaxTokens ?? 0 };
    reserved.steps += promised.steps;
    reserved.tokens += promised.tokens;
    try {
      return await runSubAgent(call, callId, { args: parsed.args, task, tools }, { maxSteps: childMaxSteps, maxTokens: childMaxTokens, budgeted });
    } finally {
      reserved.steps -= promised.steps;
      reserved.tokens -= promised.tokens;
    }
  }

  /** A checked delegate call, from its approval to the sub-agent's answer. */
  async function runSubAgent(
    call: ToolCallRequest,
    callId: string,
    request: { args: Record<string, unknown>; task: string; tools: string[] | undefined },
    budget: { maxSteps: number; maxTokens: number | undefined; budgeted: boolean },
  ): Promise<string> {
    const { args, task, tools } = request;
    const refusal = await gate(callId, call.name, args, `delegate: ${task.slice(0, 200)}`, false);
    if (refusal) return observe(call.name, args, false, refusal);
    const remainingSeconds = Math.floor((deadlineMs - nowMs()) / 1000);
    if (remainingSeconds < 60) return observe(call.name, args, false, 'Not delegated: the run has less than a minute of its time budget left.');

    // A sub-agent gets at most the tools this run has.
    const childTools = tools === undefined ? input.tools : tools.filter((t) => toolAllowed(t, input.tools));
    const childId = `${runId}.sub-${callId}`;
    const startedAt = nowIso();
    const childInput: AgentRunInput = {
      task,
      model: input.model,
      tools: childTools,
      approval: input.approval,
      maxSteps: budget.maxSteps,
      ...(budget.maxTokens !== undefined ? { maxTokens: budget.maxTokens } : {}),
      timeoutSeconds: remainingSeconds,
      approvalTimeoutSeconds: input.approvalTimeoutSeconds,
      startedAt,
      depth: depth + 1,
      parentRunId: runId,
      ...(input.owner ? { owner: input.owner } : {}),
      ...(input.maxParallelTools !== undefined ? { maxParallelTools: input.maxParallelTools } : {}),
      ...(input.localReads ? { localReads: true } : {}),
      ...(input.searchAttributes ? { searchAttributes: true } : {}),
      ...(input.patchLevel ? { patchLevel: input.patchLevel } : {}),
    };
    const child: ChildRun = { runId: childId, task: task.slice(0, 200), status: 'running' };
    children.push(child);
    usage.toolCalls += 1;
    touch();
    try {
      const outcome = await withToolSlot(async () => {
        const handle = await startChild(agentWorkflow, {
          workflowId: childId,
          args: [childInput],
          memo: {
            task: task.slice(0, MEMO_TASK_CHARS),
            startedAt,
            maxSteps: childInput.maxSteps,
            agentStatus: 'running',
            parentRunId: runId,
            ...(input.owner ? { owner: input.owner } : {}),
          },
          ...(input.searchAttributes && input.owner ? { typedSearchAttributes: newRunSearchAttributes(input.owner, startedAt) } : {}),
          workflowExecutionTimeout: `${remainingSeconds} seconds`,
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        });
        return handle.result();
      });
      child.status = outcome.status;
      if (budget.budgeted) spentBySubAgent(outcome.snapshot);
      touch();
      return observe(call.name, args, true, `Sub-agent ${childId} finished. Its answer:\n${outcome.result ?? ''}`);
    } catch (err) {
      const cancelledHere = CancellationScope.current().consideredCancelled;
      if (isCancellation(err) && cancelledHere) {
        child.status = 'cancelled';
        throw err; // this run is being cancelled; the sub-agent is cancelled with it
      }
      child.status = isCancellation(err) ? 'cancelled' : 'failed';
      if (budget.budgeted) spentBySubAgent(failureSnapshot(err));
      touch();
      return observe(call.name, args, false, `Error: sub-agent ${childId} did not finish: ${describeFailure(err)}`);
    }
  }

  /** A sub-agent's turns and tokens count in this run's usage and budget. */
  function spentBySubAgent(childStatus: RunStatus | undefined): void {
    if (!childStatus) return;
    step += childStatus.step;
    usage.llmCalls += childStatus.usage.llmCalls;
    usage.toolCalls += childStatus.usage.toolCalls;
    usage.inputTokens += childStatus.usage.inputTokens;
    usage.outputTokens += childStatus.usage.outputTokens;
  }

  /** Waits for a human when the run's approval mode asks for it; the reason it may not run, if any. */
  async function gate(callId: string, tool: string, args: unknown, summary: string, isWrite: boolean): Promise<string | undefined> {
    const gated = input.approval === 'all' || (input.approval === 'writes' && isWrite);
    if (!gated) return undefined;
    const decision = await awaitApproval(`apr-${callId}`, tool, args, summary);
    if (!decision) return 'Not executed: no human decision arrived before the approval timed out.';
    if (decision.decision === 'reject') {
      const why = decision.comment ? ` Comment: ${decision.comment}` : '';
      return `Not executed: a human rejected this call.${why}`;
    }
    return undefined;
  }

  async function awaitApproval(
    approvalId: string,
    tool: string,
    args: unknown,
    summary: string,
  ): Promise<ApprovalDecision | undefined> {
    const now = nowMs();
    const expiresMs = Math.min(now + input.approvalTimeoutSeconds * 1000, deadlineMs);
    pending.set(approvalId, {
      approvalId,
      tool,
      arguments: args,
      summary,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(expiresMs).toISOString(),
    });
    touch();
    setVisibleStatus('waiting_for_approval');
    try {
      await outside(() => condition(() => decisions.has(approvalId), Math.max(expiresMs - now, 1)));
    } finally {
      pending.delete(approvalId);
      touch();
      // Other calls of the turn may still wait for their own decisions.
      setVisibleStatus(pending.size > 0 ? 'waiting_for_approval' : 'running');
    }
    const decision = decisions.get(approvalId);
    decisions.delete(approvalId);
    if (decision) decided[approvalId] = decision.decision;
    return decision;
  }

  /** Runs one tool execution once fewer than maxParallelTools are in flight. */
  async function withToolSlot<T>(execute: () => Promise<T>, local = false): Promise<T> {
    // Several waiters can wake on one freed slot; each checks again before taking it.
    while (toolsRunning >= maxParallelTools) await condition(() => toolsRunning < maxParallelTools);
    toolsRunning += 1;
    try {
      return await (local ? execute() : outside(execute));
    } finally {
      toolsRunning -= 1;
    }
  }

  function observe(tool: string, args: unknown, ok: boolean, text: string): string {
    lastToolCall = { tool, arguments: args, ok, at: nowIso() };
    return text;
  }
}

// Temporal's workflow sandbox replaces Date with the current workflow task's time, so reading the
// clock here is deterministic on replay. These two are the only places workflow code reads it.
function nowMs(): number {
  // eslint-disable-next-line no-restricted-properties
  return Date.now();
}
function nowIso(): string {
  return new Date(nowMs()).toISOString();
}

function initialMessages(input: AgentRunInput): ChatMessage[] {
  const system =
    'You are a careful autonomous agent working on a task handed to you by a user. Use the tools when they help; ' +
    'some calls need a human approval and may be rejected. When you are done, answer with the final result and no tool call.' +
    (input.instructions ? `\n\n${input.instructions}` : '');
  return [
    { role: 'system', content: system },
    { role: 'user', content: input.task },
  ];
}

/** Whether the run's tool patterns can match anything the worker offers beyond http_request. */
function wantsToolbox(patterns: readonly string[]): boolean {
  return patterns.some((p) => p === '*' || WORKSPACE_TOOL_NAMES.includes(p) || isMcpToolName(p));
}

/** The status snapshot a failed run attaches to its failure (see `fail`), if any. */
function failureSnapshot(err: unknown): RunStatus | undefined {
  let current: unknown = err;
  while ((current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) && current.cause) current = current.cause;
  const details = current instanceof ApplicationFailure ? current.details : undefined;
  const first: unknown = details?.[0];
  return typeof first === 'object' && first !== null && 'usage' in first && 'step' in first ? (first as RunStatus) : undefined;
}

/** The innermost cause's message, so a run's error names what really went wrong. */
function describeFailure(err: unknown): string {
  let current: unknown = err;
  while ((current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) && current.cause) current = current.cause;
  if (current instanceof Error) return current.message;
  return String(current);
}
