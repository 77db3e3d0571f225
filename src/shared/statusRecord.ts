// The status a run records in its memo each time it starts waiting on something outside its
// workflow task (the model, a tool that is not a local read, a sub-agent, a timer, a human). Temporal
// holds a status query to a run whose workflow task is pending until a worker has done that task, which
// behind a busy worker takes seconds; the server answers such a read from this record instead: the run
// as of its last wait, read with describe(). Workflow code imports this file: no Node built-ins, no I/O.
import type { RunStatus, RunStatusName } from './contract.js';

/** The memo key the record is kept under. */
export const STATUS_RECORD_MEMO_KEY = 'agentRecord';

/**
 * A record longer than this (in JSON characters) keeps only its time: the memo travels with every
 * listing of the run, and a long one (a pending write's body, say) is better read from the worker.
 */
export const STATUS_RECORD_MAX_CHARS = 4_000;

/** How much of a run's task its memo keeps (list_runs shows it); the whole task is in the run's input. */
export const MEMO_TASK_CHARS = 500;

/** The parts of a run's status that change while it runs; the rest is in its memo and input. */
export type RecordedStatus = Pick<
  RunStatus,
  'step' | 'pendingApprovals' | 'lastToolCall' | 'usage' | 'warnings' | 'waiting' | 'children' | 'updatedAt'
>;

/** What the memo holds: the status, or, when that was too long to keep, only when it was recorded. */
export type StatusRecord = { status: RecordedStatus } | { tooLong: true; updatedAt: string };

/** The record of a status snapshot the workflow takes. */
export function statusRecordOf(snapshot: RunStatus): StatusRecord {
  const status: RecordedStatus = {
    step: snapshot.step,
    pendingApprovals: snapshot.pendingApprovals,
    ...(snapshot.lastToolCall ? { lastToolCall: snapshot.lastToolCall } : {}),
    usage: snapshot.usage,
    ...(snapshot.warnings ? { warnings: snapshot.warnings } : {}),
    ...(snapshot.waiting ? { waiting: snapshot.waiting } : {}),
    ...(snapshot.children ? { children: snapshot.children } : {}),
    updatedAt: snapshot.updatedAt,
  };
  return JSON.stringify(status).length > STATUS_RECORD_MAX_CHARS ? { tooLong: true, updatedAt: snapshot.updatedAt } : { status };
}

/** The status a memo records, when it holds a whole one (runs before patch level 2 record none). */
export function recordedStatusIn(memo: Record<string, unknown> | undefined): RecordedStatus | undefined {
  const record = memo?.[STATUS_RECORD_MEMO_KEY];
  if (typeof record !== 'object' || record === null || !('status' in record)) return undefined;
  const status = record.status as Partial<RecordedStatus> | null;
  // The workflow wrote it, but a memo is only data: check what the answer is built from.
  if (
    typeof status !== 'object' ||
    status === null ||
    typeof status.step !== 'number' ||
    !Array.isArray(status.pendingApprovals) ||
    typeof status.usage !== 'object' ||
    status.usage === null ||
    typeof status.updatedAt !== 'string'
  ) {
    return undefined;
  }
  return status as RecordedStatus;
}

/** The run status a recorded status stands for while the run is open, as its status query answers it. */
export function openStatusOf(recorded: RecordedStatus): RunStatusName {
  return recorded.pendingApprovals.length > 0 ? 'waiting_for_approval' : 'running';
}
