// The last events of a run's current execution, read without waiting, in one round trip. They tell
// whether the run has closed (how, when, with what result or failure: this stands in for describe()
// plus result() on the first read of a closed run) or has yet to finish its first workflow task
// (then what its start recorded is its whole status, while a query would wait for a busy worker).
// And the close itself, waited for, for a read whose query the close overtakes; and the run's input.
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { decodeRetryState, defaultFailureConverter, defaultPayloadConverter, TerminatedFailure } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { RunStatusName } from '../shared/contract.js';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** How a closed run's result came out: its value, or the failure it closed with. */
export type Settled = { value: unknown } | { error: unknown };

/** What the close event tells of a closed run. */
export interface CloseRecord {
  status: RunStatusName;
  closedAt?: string;
  /** Set where the event carries it (completed, failed, terminated), as the SDK's result() gives it. */
  settled?: Settled;
}

/** What the start event of a run no worker has taken up yet recorded. */
export interface StartRecord {
  workflowType: string;
  /** The workflow's first argument (for an agent run, its AgentRunInput), decoded. */
  input: unknown;
  memo: Record<string, unknown>;
  startedAt: Date;
}

export type RunTail =
  | { kind: 'closed'; record: CloseRecord }
  /** The first workflow task has not completed: no command of the run is recorded yet. */
  | { kind: 'unstarted'; start: StartRecord }
  /** Under way (or just continued as new): only a worker can tell more. */
  | { kind: 'open' };

/** Events before the first workflow task completes: started, task scheduled, task started. */
const EVENTS_BEFORE_FIRST_TASK = 3;

/** The close event or, for a run still on its first workflow task, its start event. */
export async function readRunTail(client: Client, runId: string): Promise<RunTail> {
  const res = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId: runId },
    maximumPageSize: EVENTS_BEFORE_FIRST_TASK,
  });
  const events = res.history?.events ?? []; // newest first
  const last = events[0];
  if (!last) return { kind: 'open' };
  const record = closeRecordOf(last);
  if (record) return { kind: 'closed', record };
  if (Number(last.eventId ?? 0) > EVENTS_BEFORE_FIRST_TASK) return { kind: 'open' };
  const first = events.find((e) => Number(e.eventId) === 1);
  const started = first?.workflowExecutionStartedEventAttributes;
  // A continued execution carries state from the one before: only its worker knows its step.
  if (!first || !started || started.continuedExecutionRunId) return { kind: 'open' };
  const memo: Record<string, unknown> = {};
  for (const [name, payload] of Object.entries(started.memo?.fields ?? {})) memo[name] = defaultPayloadConverter.fromPayload(payload);
  const inputPayload = started.input?.payloads?.[0];
  return {
    kind: 'unstarted',
    start: {
      workflowType: started.workflowType?.name ?? '',
      input: inputPayload ? defaultPayloadConverter.fromPayload(inputPayload) : undefined,
      memo,
      startedAt: optionalTsToDate(first.eventTime) ?? new Date(),
    },
  };
}

/** The first argument the run's current execution was started with (an agent run's AgentRunInput), decoded. */
export async function readRunInput(client: Client, runId: string): Promise<unknown> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: runId },
    maximumPageSize: 1,
    skipArchival: true,
  });
  const payload = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload(payload) : undefined;
}

/**
 * The close of the run's current execution, waited for: a long poll on its history's close event
 * that answers the moment it is written. Undefined when the execution continues as new, or when the
 * server ends the poll first.
 */
export async function awaitRunClose(client: Client, runId: string): Promise<CloseRecord | undefined> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: runId },
    waitNewEvent: true,
    historyEventFilterType: proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    skipArchival: true,
  });
  const last = res.history?.events?.at(-1);
  return last ? closeRecordOf(last) : undefined;
}

/**
 * How a close event closed the run; undefined for any other event, and for a continue-as-new (the
 * next execution is the run now). The server's clients use the default data converter, so payloads
 * decode as result() would.
 */
function closeRecordOf(event: HistoryEvent): CloseRecord | undefined {
  const closedAt = optionalTsToDate(event.eventTime)?.toISOString();
  const at = closedAt ? { closedAt } : {};
  if (event.workflowExecutionCompletedEventAttributes) {
    const payload = event.workflowExecutionCompletedEventAttributes.result?.payloads?.[0];
    return { status: 'completed', ...at, settled: { value: payload ? defaultPayloadConverter.fromPayload(payload) : undefined } };
  }
  if (event.workflowExecutionFailedEventAttributes) {
    const { failure, retryState } = event.workflowExecutionFailedEventAttributes;
    const cause = failure ? defaultFailureConverter.failureToError(failure, defaultPayloadConverter) : undefined;
    return { status: 'failed', ...at, settled: { error: new WorkflowFailedError('Workflow execution failed', cause, decodeRetryState(retryState) ?? 'NON_RETRYABLE_FAILURE') } };
  }
  if (event.workflowExecutionTerminatedEventAttributes) {
    const reason = event.workflowExecutionTerminatedEventAttributes.reason || 'Workflow execution terminated';
    return { status: 'failed', ...at, settled: { error: new WorkflowFailedError(reason, new TerminatedFailure(reason), 'NON_RETRYABLE_FAILURE') } };
  }
  if (event.workflowExecutionCanceledEventAttributes) return { status: 'cancelled', ...at };
  if (event.workflowExecutionTimedOutEventAttributes) return { status: 'timed_out', ...at };
  return undefined;
}
