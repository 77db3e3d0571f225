// get_run_status's read of a run, in Temporal terms, for the tools, tasks and resources alike. An
// open run answers from its worker (a query), or, while Temporal holds the query behind a workflow
// task, from the status the run recorded at its last wait; a closed run from its close event; a run
// no worker has taken up from its start event; and with no worker at all, from what Temporal knows.
import { setTimeout as delay } from 'node:timers/promises';
import {
  QueryRejectedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowClient,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure } from '@temporalio/common';
import { optionalTsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { TemporalHandle } from '../temporal/connect.js';
import { WORKFLOW_TYPE, type AgentRunInput, type RunStatus } from '../shared/contract.js';
import { statusQuery } from '../shared/runMessages.js';
import { MEMO_TASK_CHARS, openStatusOf, recordedStatusIn, type RecordedStatus } from '../shared/statusRecord.js';
import type { RunOutcome } from '../workflows/agentWorkflow.js';
import { awaitRunClose, readRunInput, readRunTail, type CloseRecord, type RunTail, type Settled, type StartRecord } from './runTail.js';
import { CLOSED_STATUS, closeOf, isNotFound, unknownRun, type RunMemo } from './runRecord.js';

/** How long a status query may take before the read says what Temporal alone knows. */
export const QUERY_DEADLINE_MS = 3_000;
/**
 * A status query still unanswered after this long is answered from the status the run recorded at its
 * last wait, or else by the run's close when it comes: most answer well before, from the worker.
 */
const SLOW_QUERY_MS = 50;
/** A pending workflow task no worker has started for this long is worth a note on the status. */
const STALLED_TASK_MS = 5_000;
/** How long one check of the task queue's pollers stands (Temporal itself lists a gone poller for a while). */
const POLLER_CHECK_MS = 2_000;
/** Closed runs never change: this many final statuses are kept to answer without a round trip. */
const CLOSED_CACHE_SIZE = 2_000;

const { PendingWorkflowTaskState } = proto.temporal.api.enums.v1;
type PendingWorkflowTask = proto.temporal.api.workflow.v1.IPendingWorkflowTaskInfo;

/** What may answer a status read before its query: the run's close, its start, or its status record. */
type Decisive = Exclude<RunTail, { kind: 'open' }> | { kind: 'recorded'; status: RunStatus };

/** What the reader needs of the run service: its connection, and describe() with its checks. */
export interface StatusSource {
  /** The connected Temporal; throws while there is none. */
  temporal(): TemporalHandle;
  /** A client whose queries Temporal rejects for a closed run instead of asking a worker to replay it. */
  openRunQueries(): WorkflowClient;
  /** describe(), "no such run" for a missing run or a workflow of another type. */
  describe(runId: string): Promise<{ handle: WorkflowHandle; desc: WorkflowExecutionDescription }>;
  taskQueue: string;
}

export class RunStatusReader {
  /** Final statuses of closed runs, oldest first (a Map keeps insertion order). */
  private readonly closedStatuses = new Map<string, RunStatus>();
  /** The last poller check (noPollerNote) and when it was asked. */
  private pollerCheck: { at: number; note: Promise<string | undefined> } | undefined;

  constructor(private readonly source: StatusSource) {}

  /** A closed run's final status, if this server has read it already. */
  cached(runId: string): RunStatus | undefined {
    return this.closedStatuses.get(runId);
  }

  /** The run's status with its owner, whoever asks. */
  async read(runId: string): Promise<RunStatus> {
    const cached = this.closedStatuses.get(runId);
    if (cached) return cached;
    // One round trip of wall time either way: an open run answers from its worker, while the run's
    // last events, read at the same time without waiting, tell whether it closed (how and when) or
    // is still waiting for its first workflow task. Either answers at once; a query would wait for
    // the worker's backlog (a burst of starts) or be rejected as closed.
    let queryError: unknown;
    let record: CloseRecord | undefined;
    const raceOver = new AbortController();
    const query = this.withDeadline(() => this.source.openRunQueries().getHandle(runId).query(statusQuery));
    const tail = this.withDeadline(() => readRunTail(this.source.temporal().client, runId)).catch((): RunTail => ({ kind: 'open' }));
    // Only these compete with the query: a close or unstarted tail, or, once the query is slow, the
    // run's record or its close.
    const slow = this.answerSlowQuery(runId, tail, raceOver.signal);
    const decisive = tail.then((found) => (found.kind === 'open' ? slow : found));
    try {
      const first = await Promise.race([query.then((status) => ({ status })), decisive.then((found) => ({ found }))]);
      if ('status' in first) return first.status;
      query.catch(() => undefined); // rejected as closed, or waiting for a worker: nothing more to learn
      if (first.found.kind === 'recorded') return first.found.status;
      if (first.found.kind === 'unstarted') return this.unstartedStatus(runId, first.found.start, await this.noPollerNote());
      record = first.found.record;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || isNotFound(err)) throw unknownRun(runId);
      queryError = err;
    } finally {
      raceOver.abort();
    }
    if (!record) {
      const found = await tail;
      if (found.kind === 'closed') record = found.record;
    }
    if (record) return this.closedStatus(runId, record);
    const { handle, desc } = await this.source.describe(runId);
    if (!CLOSED_STATUS[desc.status.name]) {
      // Rejected as closed yet open now: it continued as new in between, so ask the new execution.
      if (queryError instanceof QueryRejectedError) {
        try {
          return await this.withDeadline(() => handle.query(statusQuery));
        } catch (err) {
          queryError = err;
        }
      }
      return this.fallbackStatus(runId, desc, await this.noWorkerNote(queryError));
    }
    return this.closedStatus(runId, closeOf(desc), desc);
  }

  /**
   * What answers a status query still waiting after SLOW_QUERY_MS; never settles otherwise. Temporal
   * holds a query to a run whose workflow task is pending until a worker has done that task, which
   * behind a busy worker's queue takes seconds. A run from patch level 2 records its status each time
   * it starts waiting outside its workflow task: while a task is pending, that record answers, as the
   * query would have answered then (a note says so when the task waits long for a worker). Without one
   * (an older run, a record too long to keep), the run's close answers if it comes
   * first: when the pending task closes the run, the query goes on to a worker that replays the closed
   * run from its start (seconds under load) only to answer as of before the close.
   */
  private async answerSlowQuery(
    runId: string,
    tail: Promise<RunTail>,
    raceOver: AbortSignal,
  ): Promise<Decisive> {
    const never = new Promise<never>(() => undefined);
    // The record is read as soon as the tail shows the run open (most reads under a burst are of closed
    // or unstarted runs, and need no describe()), so a slow query has it at hand.
    const described = tail.then((found) =>
      found.kind === 'open' && !raceOver.aborted ? this.withDeadline(() => this.source.describe(runId)).catch(() => undefined) : undefined,
    );
    try {
      await delay(SLOW_QUERY_MS, undefined, { signal: raceOver });
      const pollers = this.noPollerNote(); // under way while the reads finish; one stands for a burst
      if ((await tail).kind !== 'open') return never; // the tail answers by itself
      // Only a query Temporal holds behind a pending workflow task. One it sent straight to a worker
      // that has not answered tells of the worker instead: its deadline, then the note why.
      const desc = (await described)?.desc;
      const heldBehind = desc && !CLOSED_STATUS[desc.status.name] ? desc.raw.pendingWorkflowTask : undefined;
      const recorded = desc && heldBehind ? recordedStatusIn(desc.memo) : undefined;
      if (desc && heldBehind && recorded) {
        return { kind: 'recorded', status: await this.recordedRunStatus(runId, desc, recorded, this.stallNote(heldBehind, pollers)) };
      }
      const { connection } = this.source.temporal();
      const record = await connection.withAbortSignal(raceOver, () => this.withDeadline(() => awaitRunClose(this.source.temporal().client, runId)));
      return record ? { kind: 'closed', record } : never;
    } catch {
      return never; // the query answered first, or a read failed: the query decides
    }
  }

  /**
   * Why a run's pending workflow task may not be done soon: no worker polls, or none has taken the
   * task up for STALLED_TASK_MS (all busy, or gone without Temporal knowing yet).
   */
  private async stallNote(task: PendingWorkflowTask, pollers: Promise<string | undefined>): Promise<string | undefined> {
    const noPoller = await pollers;
    if (noPoller) return noPoller;
    const scheduledMs = optionalTsToMs(task.originalScheduledTime ?? task.scheduledTime);
    if (task.state !== PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED || scheduledMs === undefined) return undefined;
    const waitedMs = Date.now() - scheduledMs;
    if (waitedMs < STALLED_TASK_MS) return undefined;
    return (
      `the run's next workflow task has waited ${Math.round(waitedMs / 1000)} s for a worker on task queue "${this.source.taskQueue}" ` +
      '(all busy, or gone); status below is what the run recorded at its last wait'
    );
  }

  /** A run's status from the record it made at its last wait (memo and record, see statusRecord.ts). */
  private async recordedRunStatus(
    runId: string,
    desc: WorkflowExecutionDescription,
    recorded: RecordedStatus,
    stalled: Promise<string | undefined>,
  ): Promise<RunStatus> {
    const memo = (desc.memo ?? {}) as RunMemo;
    const [task, note] = await Promise.all([this.wholeTask(runId, memo), stalled]);
    return {
      runId,
      status: openStatusOf(recorded),
      task,
      maxSteps: memo.maxSteps ?? 0,
      ...recorded,
      ...(memo.parentRunId ? { parentRunId: memo.parentRunId } : {}),
      ...(note ? { error: note } : {}),
      startedAt: memo.startedAt ?? desc.startTime.toISOString(),
      ...(memo.owner ? { owner: memo.owner } : {}),
    };
  }

  /** The run's whole task: the memo keeps MEMO_TASK_CHARS of it, its input all of it. */
  private async wholeTask(runId: string, memo: RunMemo): Promise<string> {
    if (typeof memo.task === 'string' && memo.task.length < MEMO_TASK_CHARS) return memo.task;
    const input = (await this.withDeadline(() => readRunInput(this.source.temporal().client, runId))) as Partial<AgentRunInput> | undefined;
    return typeof input?.task === 'string' ? input.task : (memo.task ?? '');
  }

  /**
   * The status of a run whose first workflow task has not completed, from its start event: what the
   * workflow itself would answer before doing anything (step 0, nothing pending, nothing used).
   */
  private unstartedStatus(runId: string, start: StartRecord, note: string | undefined): RunStatus {
    if (start.workflowType !== WORKFLOW_TYPE) throw unknownRun(runId);
    const input = (start.input ?? {}) as Partial<AgentRunInput>;
    const memo = start.memo as RunMemo;
    const startedAt = typeof input.startedAt === 'string' ? input.startedAt : (memo.startedAt ?? start.startedAt.toISOString());
    const owner = typeof input.owner === 'string' ? input.owner : memo.owner;
    return {
      runId,
      status: 'running',
      task: typeof input.task === 'string' ? input.task : (memo.task ?? ''),
      step: 0,
      maxSteps: typeof input.maxSteps === 'number' ? input.maxSteps : (memo.maxSteps ?? 0),
      pendingApprovals: [],
      usage: { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 },
      ...(typeof input.parentRunId === 'string' ? { parentRunId: input.parentRunId } : {}),
      ...(note ? { error: note } : {}),
      startedAt,
      updatedAt: startedAt,
      ...(owner ? { owner } : {}),
    };
  }

  /**
   * The final status of a closed run. A completed or failed run carries its snapshot in its result
   * (fetched here unless the record has it); for the others a worker replays the run to answer and,
   * failing that, describe() tells what Temporal knows.
   */
  async closedStatus(runId: string, record: CloseRecord, desc?: WorkflowExecutionDescription): Promise<RunStatus> {
    const handle = this.source.temporal().client.workflow.getHandle(runId);
    const { status: closed, closedAt } = record;
    const outcome = record.settled ?? (closed === 'completed' || closed === 'failed' ? await settle(handle) : undefined);
    let error = closed === 'timed_out' ? 'The run ran out of its time budget (timeoutSeconds) and was stopped.' : undefined;
    let carried: unknown;
    if (closed === 'completed' && outcome && 'value' in outcome) {
      carried = (outcome.value as Partial<RunOutcome> | undefined)?.snapshot;
    } else if (closed === 'failed' && outcome && 'error' in outcome) {
      const err = outcome.error;
      const cause = err instanceof WorkflowFailedError ? err.cause : undefined;
      if (cause instanceof ApplicationFailure) {
        error = cause.message;
        carried = cause.details?.[0];
      } else if (cause instanceof TerminatedFailure) {
        error = `The run was terminated: ${cause.message}`;
      } else {
        error = cause?.message ?? (err instanceof Error ? err.message : String(err));
      }
    }
    // The others carry no snapshot: a worker can replay the closed run to answer.
    const snapshot = (carried as RunStatus | undefined) ?? (await this.withDeadline(() => handle.query(statusQuery)).catch(() => undefined));
    // Without describe() the run's type is unchecked: only a snapshot of this very run vouches for it.
    if (!desc && !isSnapshotOf(snapshot, runId)) desc = (await this.source.describe(runId)).desc;
    if (closed === 'completed' && snapshot) {
      return this.remember({ ...snapshot, status: 'completed', ...(closedAt ? { closedAt, updatedAt: closedAt } : {}) });
    }
    const final: RunStatus = {
      // Without a snapshot, describe() is what we have.
      ...(snapshot ?? this.fallbackStatus(runId, desc ?? (await this.source.describe(runId)).desc)),
      status: closed,
      pendingApprovals: [],
      ...(error ? { error } : {}),
      ...(closedAt ? { closedAt, updatedAt: closedAt } : {}),
    };
    // Without a snapshot a later read (with a worker) can say more, so only a full answer is kept.
    return snapshot ? this.remember(final) : final;
  }

  private remember(status: RunStatus): RunStatus {
    this.closedStatuses.set(status.runId, status);
    if (this.closedStatuses.size > CLOSED_CACHE_SIZE) this.closedStatuses.delete(this.closedStatuses.keys().next().value!);
    return status;
  }

  private async noWorkerNote(err: unknown): Promise<string> {
    const why = err instanceof Error ? err.message : String(err);
    return (await this.noPollerNote()) ?? `the worker did not answer a status query within ${QUERY_DEADLINE_MS / 1000} s (${why})`;
  }

  /**
   * Why a run cannot answer when no worker polls its task queue (undefined when one does, or unknown).
   * One check stands for POLLER_CHECK_MS, so a burst of reads asks Temporal once.
   */
  private noPollerNote(): Promise<string | undefined> {
    const now = Date.now();
    if (!this.pollerCheck || now - this.pollerCheck.at > POLLER_CHECK_MS) this.pollerCheck = { at: now, note: this.checkPollers() };
    return this.pollerCheck.note;
  }

  private async checkPollers(): Promise<string | undefined> {
    try {
      const res = await this.source.temporal().connection.workflowService.describeTaskQueue({
        namespace: this.source.temporal().namespace,
        taskQueue: { name: this.source.taskQueue },
        taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
      });
      if (!res.pollers?.length) {
        return `no worker is polling task queue "${this.source.taskQueue}", so the run cannot make progress or answer; start \`durable-agent-mcp worker\` (status below is what Temporal itself knows)`;
      }
    } catch {
      /* unknown: say nothing */
    }
    return undefined;
  }

  private fallbackStatus(runId: string, desc: WorkflowExecutionDescription, note?: string): RunStatus {
    const memo = (desc.memo ?? {}) as RunMemo;
    const startedAt = memo.startedAt ?? desc.startTime.toISOString();
    // Runs from patch level 2 recorded their status at their last wait: say all of it.
    const recorded = recordedStatusIn(desc.memo);
    return {
      runId,
      status: CLOSED_STATUS[desc.status.name] ?? (recorded ? openStatusOf(recorded) : memo.agentStatus) ?? 'running',
      task: memo.task ?? '',
      step: memo.agentStep ?? 0,
      maxSteps: memo.maxSteps ?? 0,
      pendingApprovals: [],
      usage: { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 },
      updatedAt: (desc.closeTime ?? desc.startTime).toISOString(),
      ...recorded,
      ...(note ? { error: note } : {}),
      startedAt,
      ...(memo.owner ? { owner: memo.owner } : {}),
    };
  }

  private withDeadline<T>(fn: () => Promise<T>): Promise<T> {
    return this.source.temporal().connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, fn);
  }
}

async function settle(handle: WorkflowHandle): Promise<Settled> {
  try {
    return { value: (await handle.result()) as unknown };
  } catch (error) {
    return { error };
  }
}

/** Whether a value is a status snapshot of this run, as a completed or failed agent run carries. */
function isSnapshotOf(value: unknown, runId: string): value is RunStatus {
  const candidate = value as Partial<RunStatus> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.runId === runId && typeof candidate.step === 'number';
}
