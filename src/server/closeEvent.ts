// A run's close event, read without waiting: how it closed, when, and with what result or failure,
// in one round trip. It stands in for describe() plus result() on the first read of a closed run.
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { decodeRetryState, defaultFailureConverter, defaultPayloadConverter, TerminatedFailure } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { RunStatusName } from '../shared/contract.js';

/** How a closed run's result came out: its value, or the failure it closed with. */
export type Settled = { value: unknown } | { error: unknown };

/** What the close event tells of a closed run. */
export interface CloseRecord {
  status: RunStatusName;
  closedAt?: string;
  /** Set where the event carries it (completed, failed, terminated), as the SDK's result() gives it. */
  settled?: Settled;
}

/**
 * The close event of the run's current execution; undefined while it is open (or has just continued
 * as new). The server's clients use the default data converter, so payloads decode as result() would.
 */
export async function readCloseEvent(client: Client, runId: string): Promise<CloseRecord | undefined> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: runId },
    historyEventFilterType: proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
    waitNewEvent: false,
    skipArchival: true,
  });
  const event = res.history?.events?.[0];
  if (!event) return undefined;
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
  return undefined; // continued as new: the next execution is the run now
}
