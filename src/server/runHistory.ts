// get_run_history: a run's timeline read from Temporal's event history, over every execution of
// the run (continue-as-new makes several), for open and closed runs alike. Only what the workflow
// already recorded is shown; arguments and results are cut to keep pages small.
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time.js';
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { HttpToolResult, ModelCallResult, ReadOutcome } from '../activities/types.js';
import type { ApprovalDecision, HistoryEntry, HistoryEntryKind } from '../shared/contract.js';
import type { ToolCallOutcome } from '../shared/toolbox.js';
import { redactText } from './redact.js';

const EventType = proto.temporal.api.enums.v1.EventType;
type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

const TEXT_MAX = 500;

export type { HistoryEntry, HistoryEntryKind };

/** Every execution of the run, oldest first. */
export async function runTimeline(client: Client, runId: string): Promise<HistoryEntry[]> {
  const executions: Array<{ runId: string; start: number }> = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = '${runId.replace(/'/g, "\\'")}'` })) {
    executions.push({ runId: e.runId, start: e.startTime.getTime() });
  }
  executions.sort((a, b) => a.start - b.start);
  if (executions.length === 0) {
    // Visibility can lag a fresh start by a moment; the current execution is enough then.
    const desc = await client.workflow.getHandle(runId).describe();
    executions.push({ runId: desc.runId, start: desc.startTime.getTime() });
  }
  const entries: HistoryEntry[] = [];
  for (const [i, execution] of executions.entries()) {
    const history = await client.workflow.getHandle(runId, execution.runId).fetchHistory();
    entries.push(...timelineOf(history.events ?? [], i + 1));
  }
  return entries;
}

interface Scheduled {
  type: string;
  input: unknown;
  at: number;
  attempt: number;
  lastFailure?: string;
}

function timelineOf(events: HistoryEvent[], execution: number): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  const scheduled = new Map<string, Scheduled>();
  const add = (event: HistoryEvent, entry: Omit<HistoryEntry, 'at' | 'execution'>) =>
    out.push({ at: new Date(tsToMs(event.eventTime)).toISOString(), execution, ...entry });

  for (const event of events) {
    const at = tsToMs(event.eventTime);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const attrs = event.workflowExecutionStartedEventAttributes;
        const input = first(attrs?.input?.payloads) as { task?: string } | undefined;
        add(event, { kind: 'started', summary: execution === 1 ? `run started: ${cut(input?.task ?? '')}` : 'execution continued (continue-as-new)' });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const attrs = event.activityTaskScheduledEventAttributes;
        scheduled.set(String(event.eventId), { type: attrs?.activityType?.name ?? '?', input: first(attrs?.input?.payloads), at, attempt: 1 });
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const attrs = event.activityTaskStartedEventAttributes;
        const s = scheduled.get(String(attrs?.scheduledEventId));
        if (s) {
          s.attempt = attrs?.attempt ?? 1;
          if (attrs?.lastFailure?.message) s.lastFailure = attrs.lastFailure.message;
          if (s.attempt > 1) add(event, { kind: 'retry', summary: `${label(s)} attempt ${s.attempt}`, attempts: s.attempt, ...(s.lastFailure ? { error: cut(s.lastFailure) } : {}) });
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        const attrs = event.activityTaskCompletedEventAttributes;
        const s = scheduled.get(String(attrs?.scheduledEventId));
        // describeToolbox only asks the worker what it offers: not a step of the agent's.
        if (s && s.type !== 'describeToolbox') add(event, completedEntry(s, first(attrs?.result?.payloads), at - s.at));
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        const attrs = event.activityTaskFailedEventAttributes ?? event.activityTaskTimedOutEventAttributes;
        const s = scheduled.get(String(attrs?.scheduledEventId));
        const why = failureText(attrs?.failure);
        if (s) add(event, { kind: 'error', summary: `${label(s)} failed after ${s.attempt} attempt(s): ${cut(why)}`, attempts: s.attempt, durationMs: at - s.at, error: cut(why) });
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const read = localRead(event);
        if (read?.outcome) add(event, completedEntry(read.scheduled, read.outcome.result, read.durationMs));
        else if (read) {
          const why = failureText(event.markerRecordedEventAttributes?.failure);
          add(event, { kind: 'error', summary: `${label(read.scheduled)} failed after ${read.scheduled.attempt} attempt(s): ${cut(why)}`, attempts: read.scheduled.attempt, durationMs: read.durationMs, error: cut(why) });
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const attrs = event.workflowExecutionSignaledEventAttributes;
        const by = attrs?.identity ?? undefined;
        const payload = first(attrs?.input?.payloads);
        if (attrs?.signalName === 'decide') {
          const d = payload as ApprovalDecision;
          const decidedBy = d.by ?? by;
          add(event, {
            kind: 'approval',
            summary: `${d.approvalId} ${d.decision === 'approve' ? 'approved' : 'rejected'}${d.comment ? `: ${cut(d.comment)}` : ''}`,
            approvalId: d.approvalId,
            decision: d.decision,
            ...(d.comment ? { comment: d.comment } : {}),
            ...(decidedBy ? { by: decidedBy } : {}),
            ...(d.channel ? { channel: d.channel } : {}),
          });
        } else if (attrs?.signalName === 'message') {
          add(event, { kind: 'message', summary: `message from the caller: ${cut(String(payload))}`, ...(by ? { by } : {}) });
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: {
        const by = event.workflowExecutionCancelRequestedEventAttributes?.identity ?? undefined;
        add(event, { kind: 'cancel_requested', summary: 'cancellation requested', ...(by ? { by } : {}) });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        add(event, { kind: 'continued_as_new', summary: 'history grew long: the run continued as a new execution with the same runId' });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
        const outcome = first(event.workflowExecutionCompletedEventAttributes?.result?.payloads) as { result?: string } | undefined;
        add(event, { kind: 'closed', summary: `completed: ${cut(outcome?.result ?? '')}`, ok: true });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
        const why = failureText(event.workflowExecutionFailedEventAttributes?.failure);
        add(event, { kind: 'closed', summary: `failed: ${cut(why)}`, ok: false, error: cut(why) });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        add(event, { kind: 'closed', summary: 'cancelled', ok: false });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        add(event, { kind: 'closed', summary: 'timed out (timeoutSeconds)', ok: false });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        add(event, { kind: 'closed', summary: 'terminated', ok: false });
        break;
      default:
        break;
    }
  }
  return out;
}

/** The regular activity each local read stands for, so a read shows as the same tool call. */
const LOCAL_READS: Record<string, string> = { readHttp: 'httpRequest', readMcpTool: 'callMcpTool', readWorkspace: 'workspaceTool' };

/**
 * A read run as a local activity: its marker holds the attempt, times and the result, which carries
 * the read's input (ReadOutcome). Other markers (patches) are not steps.
 */
function localRead(event: HistoryEvent): { scheduled: Scheduled; outcome?: ReadOutcome<unknown, unknown>; durationMs: number } | undefined {
  const attrs = event.markerRecordedEventAttributes;
  if (attrs?.markerName !== 'core_local_activity') return undefined;
  const data = first(attrs.details?.data?.payloads) as LocalActivityMarkerData | undefined;
  const type = data?.activity_type ? LOCAL_READS[data.activity_type] : undefined;
  if (!data || !type) return undefined;
  const outcome = first(attrs.details?.result?.payloads) as ReadOutcome<unknown, unknown> | undefined;
  const started = seconds(data.original_schedule_time);
  const ended = seconds(data.complete_time) ?? tsToMs(event.eventTime);
  return {
    scheduled: { type, input: outcome?.input, at: started ?? ended, attempt: data.attempt ?? 1 },
    ...(outcome ? { outcome } : {}),
    durationMs: Math.max(0, ended - (started ?? ended)),
  };
}

/** The part of core's local-activity marker read here (snake_case, as core writes it). */
interface LocalActivityMarkerData {
  activity_type?: string;
  attempt?: number;
  complete_time?: { seconds?: number; nanos?: number } | null;
  original_schedule_time?: { seconds?: number; nanos?: number } | null;
}

function seconds(time: { seconds?: number; nanos?: number } | null | undefined): number | undefined {
  return time?.seconds === undefined ? undefined : time.seconds * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}

function completedEntry(s: Scheduled, result: unknown, durationMs: number): Omit<HistoryEntry, 'at' | 'execution'> {
  const common = { attempts: s.attempt, durationMs };
  switch (s.type) {
    case 'callModel': {
      const reply = result as ModelCallResult;
      const calls = reply.toolCalls.map((c) => c.name);
      const summary = calls.length ? `model asked for ${calls.join(', ')}` : `model answered: ${cut(reply.content ?? '')}`;
      return {
        kind: 'llm_turn',
        summary,
        ...common,
        ...(reply.content ? { result: cut(reply.content) } : {}),
        ...(calls.length ? { arguments: reply.toolCalls.map((c) => ({ tool: c.name, arguments: cut(c.arguments) })) } : {}),
        usage: { inputTokens: reply.inputTokens, outputTokens: reply.outputTokens },
      };
    }
    case 'httpRequest': {
      const input = s.input as { args: { method: string; url: string } };
      const response = result as HttpToolResult;
      return {
        kind: 'tool_call',
        tool: 'http_request',
        summary: `http_request ${input.args.method} ${input.args.url} → ${response.status}`,
        arguments: input.args,
        result: cut(response.body),
        ok: response.status < 400,
        ...common,
      };
    }
    case 'callMcpTool':
    case 'workspaceTool': {
      const input = s.input as { name?: string; tool?: string; args: Record<string, unknown> };
      const tool = input.name ?? input.tool ?? s.type;
      const outcome = result as ToolCallOutcome;
      return { kind: 'tool_call', tool, summary: `${tool} ${outcome.ok ? 'ok' : 'error'}: ${cut(outcome.text, 120)}`, arguments: input.args, result: cut(outcome.text), ok: outcome.ok, ...common };
    }
    default:
      return { kind: 'tool_call', tool: s.type, summary: `${s.type} done`, ...common };
  }
}

function label(s: Scheduled): string {
  if (s.type === 'callModel') return 'model call';
  if (s.type === 'httpRequest') return 'http_request';
  const input = s.input as { name?: string; tool?: string } | undefined;
  return input?.name ?? input?.tool ?? s.type;
}

function first(payloads: Payload[] | null | undefined): unknown {
  const p = payloads?.[0];
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch {
    return undefined;
  }
}

function failureText(failure: proto.temporal.api.failure.v1.IFailure | null | undefined): string {
  let current = failure;
  while (current?.cause) current = current.cause;
  return current?.message ?? failure?.message ?? 'unknown error';
}

/** Redacts before cutting, so a cut never leaves half a credential behind. */
function cut(text: string, max = TEXT_MAX): string {
  const clean = redactText(text);
  return clean.length <= max ? clean : `${clean.slice(0, max)}…`;
}
