// Everything the MCP tools do to runs, in Temporal terms: start a workflow, query, signal,
// cancel, describe and list. Tools stay thin; this file owns the mapping.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  QueryRejectedError,
  WorkflowClient,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure, TerminatedFailure } from '@temporalio/common';
import type { Config } from '../config.js';
import type { TemporalHandle } from '../temporal/connect.js';
import { hasRunSearchAttributes } from '../temporal/searchAttributes.js';
import {
  type ApprovalLookup,
  PATCH_LEVEL,
  WORKFLOW_TYPE,
  type AgentRunInput,
  type ApprovalMode,
  type RunStatus,
  type RunStatusName,
  type RunSummary,
} from '../shared/contract.js';
import { approvalQuery, decideSignal, messageSignal, statusQuery } from '../shared/runMessages.js';
import { newRunSearchAttributes } from '../shared/searchAttributes.js';
import { AGENT_TOOL_NAMES } from '../shared/agentTools.js';
import { isMcpToolName, WORKSPACE_TOOL_NAMES } from '../shared/toolbox.js';
import type { RunOutcome } from '../workflows/agentWorkflow.js';
import { awaitRunClose, readRunTail, type CloseRecord, type RunTail, type Settled, type StartRecord } from './runTail.js';
import { differingParameters, fingerprint, runIdForKey } from './idempotency.js';
import type { Caller } from './principal.js';
import { redactHistoryEntry, redactStatus } from './redact.js';
import { runTimeline, type HistoryEntry } from './runHistory.js';
import { RunList, type ListParams, type RunPage } from './runList.js';
import { CLOSED_STATUS, ownerOf, type RunMemo } from './runRecord.js';
import { UnknownRunError, UserError } from './toolResult.js';

const QUERY_DEADLINE_MS = 3_000;
const MEMO_TASK_CHARS = 500;
/** get_run_result and cancel_run long-poll for the close in slices this long (progress, shutdown). */
const WAIT_SLICE_MS = 2_000;
/**
 * A status query still unanswered after this long also watches for the run's close (one long poll):
 * most answer well before, and need no second call.
 */
const CLOSE_WATCH_AFTER_MS = 50;
/** How long one check of the task queue's pollers stands (Temporal itself lists a gone poller for a while). */
const POLLER_CHECK_MS = 2_000;
/** Closed runs never change: this many final statuses are kept to answer without a round trip. */
const CLOSED_CACHE_SIZE = 2_000;

export interface StartParams {
  task: string;
  instructions?: string;
  model?: string;
  tools?: string[];
  approval?: ApprovalMode;
  maxSteps?: number;
  maxTokens?: number;
  timeoutSeconds?: number;
  approvalTimeoutSeconds?: number;
  idempotencyKey?: string;
}

/** Through which channel a decision came: the approve_step tool, an elicitation form, a tasks/update. */
export type DecisionChannel = 'approve_step' | 'elicitation' | 'tasks/update';

/** How long a closed run stays readable when the namespace does not say (Temporal's own default). */
const DEFAULT_RETENTION_MS = 24 * 3600_000;

export type { RunSummary };

/** What became of one decision: applied, a repeat of the one made, or refused and why. */
export type DecideOutcome =
  | { kind: 'applied'; status: RunStatusName }
  | { kind: 'same'; status: RunStatusName }
  | { kind: 'changed'; decision: 'approve' | 'reject' }
  | { kind: 'closed'; status: RunStatusName }
  | { kind: 'unknown'; pendingIds: string[] };

/** How many per-caller Temporal clients (they only differ in the identity history records) are kept. */
const CALLER_CLIENTS_MAX = 100;

export class RunService {
  private temporalHandle: TemporalHandle | undefined;
  /** Set at shutdown: waits in get_run_result answer at once with the current status. */
  private stopping = false;
  /** When a tool call first gave up waiting for Temporal; cleared once connected. */
  private unreachableSince: number | undefined;
  /** Ends every long poll of get_run_result at shutdown. */
  private readonly stopWaits = new AbortController();
  /** Queries that the server rejects for a closed run instead of asking a worker to replay it. */
  private openRunClient: WorkflowClient | undefined;
  /** Final statuses of closed runs, oldest first (a Map keeps insertion order). */
  private readonly closedStatuses = new Map<string, RunStatus>();
  /** Clients whose identity names a caller, so history says who signalled or cancelled. */
  private readonly callerClients = new Map<string, WorkflowClient>();
  /** The namespace's retention: how long a closed run stays readable (asked once). */
  private retention: Promise<number> | undefined;
  /** The last poller check (noPollerNote) and when it was asked. */
  private pollerCheck: { at: number; note: Promise<string | undefined> } | undefined;
  /** list_runs, and whether runs carry the search attributes it filters on (asked once, at connection). */
  private listing: RunList | undefined;

  /** `connect` is called lazily and again after a failure, so a Temporal outage never kills the server. */
  /**
   * `connectWaitMs`: how long a tool waits for the first connection before answering with an error;
   * short for a Temporal that should already be up, longer while an embedded one is starting.
   */
  constructor(
    private readonly config: Config,
    private readonly connect: () => Promise<TemporalHandle>,
    private readonly connectWaitMs = 5_000,
  ) {}

  private get temporal(): TemporalHandle {
    if (!this.temporalHandle) throw new Error('not connected to Temporal');
    return this.temporalHandle;
  }

  private get openRunQueries(): WorkflowClient {
    if (!this.openRunClient) throw new Error('not connected to Temporal');
    return this.openRunClient;
  }

  private get runList(): RunList {
    if (!this.listing) throw new Error('not connected to Temporal');
    return this.listing;
  }

  /** Whether runs get the DurableAgent* search attributes and list_runs filters on them (false: it scans). */
  async usesSearchAttributes(): Promise<boolean> {
    await this.ready();
    return this.runList.searchAttributes;
  }

  /** A client that signs what it sends with the caller's principal and MCP client name. */
  private clientFor(caller: Caller): WorkflowClient {
    const identity = describeCaller(caller);
    let client = this.callerClients.get(identity);
    if (!client) {
      client = new WorkflowClient({ connection: this.temporal.connection, namespace: this.temporal.namespace, identity });
      this.callerClients.set(identity, client);
      if (this.callerClients.size > CALLER_CLIENTS_MAX) this.callerClients.delete(this.callerClients.keys().next().value!);
    }
    return client;
  }

  private async ready(): Promise<void> {
    if (this.temporalHandle) return;
    // A tool answers promptly even while Temporal is down; the connection keeps trying behind it.
    // Once a call has waited the full time in vain, later calls wait only briefly.
    const waitMs = this.unreachableSince === undefined ? this.connectWaitMs : Math.min(this.connectWaitMs, 1_000);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.unreachableSince ??= Date.now();
        const since = Math.round((Date.now() - this.unreachableSince) / 1000) + this.connectWaitMs / 1000;
        reject(new UserError(`Temporal is not reachable yet (tried for ${since} s). Check that it is running and that TEMPORAL_ADDRESS is right, then try again; no run was changed.`));
      }, waitMs);
    });
    try {
      const temporal = await Promise.race([this.connect(), timeout]);
      this.openRunClient = new WorkflowClient({ connection: temporal.connection, namespace: temporal.namespace, queryRejectCondition: 'NOT_OPEN' });
      // Asked now, awaited only by what needs it (start, list).
      this.listing = new RunList(temporal, hasRunSearchAttributes(temporal));
      this.temporalHandle = temporal;
      this.unreachableSince = undefined;
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`Temporal is not reachable: ${err instanceof Error ? err.message : String(err)}. No run was changed.`);
    } finally {
      clearTimeout(timer);
    }
  }

  async start(params: StartParams, caller: Caller): Promise<{ runId: string; status: RunStatusName; created: boolean }> {
    await this.ready();
    const tools = params.tools ?? ['*'];
    const unknown = tools.filter((t) => !isToolPattern(t));
    if (unknown.length) {
      throw new UserError(
        `Unknown tool(s): ${unknown.join(', ')}. Use built-in names (${[...AGENT_TOOL_NAMES, ...WORKSPACE_TOOL_NAMES].join(', ')}), ` +
          '<server>__<tool> or <server>__* for MCP server tools, or * for all.',
      );
    }
    const searchAttributes = await this.runList.searchAttributes;
    const startedAt = new Date().toISOString();
    const input: AgentRunInput = {
      task: params.task,
      ...(params.instructions ? { instructions: params.instructions } : {}),
      model: params.model ?? this.config.model,
      tools,
      approval: params.approval ?? 'writes',
      maxSteps: params.maxSteps ?? 25,
      ...(params.maxTokens !== undefined ? { maxTokens: params.maxTokens } : {}),
      timeoutSeconds: params.timeoutSeconds ?? 7 * 24 * 3600,
      approvalTimeoutSeconds: params.approvalTimeoutSeconds ?? this.config.approvalTimeoutSeconds,
      startedAt,
      owner: caller.principal,
      maxParallelTools: this.config.maxParallelTools,
      localReads: true,
      ...(searchAttributes ? { searchAttributes: true } : {}),
      patchLevel: PATCH_LEVEL,
    };
    const key = params.idempotencyKey;
    const runId = key ? runIdForKey(caller.principal, key) : `run-${randomUUID()}`;
    const paramPrints = fingerprint(params);
    const nonce = randomUUID();
    const memo: RunMemo = {
      task: params.task.slice(0, MEMO_TASK_CHARS),
      startedAt,
      maxSteps: input.maxSteps,
      agentStatus: 'running',
      startNonce: nonce,
      owner: caller.principal,
      ...(key ? { params: paramPrints } : {}),
    };
    try {
      await this.temporal.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: this.config.taskQueue,
        workflowId: runId,
        args: [input],
        memo: memo as Record<string, unknown>,
        ...(searchAttributes ? { typedSearchAttributes: newRunSearchAttributes(caller.principal, startedAt) } : {}),
        workflowExecutionTimeout: `${input.timeoutSeconds} seconds`,
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    if (!key) return { runId, status: 'running', created: true };
    // USE_EXISTING answers the same way for a new and a running run: the memo tells whose start won.
    const { desc } = await this.describe(runId);
    const existingMemo = (desc.memo ?? {}) as RunMemo;
    if (existingMemo.startNonce === nonce) return { runId, status: 'running', created: true };
    if (ownerOf(existingMemo) !== caller.principal) throw unknownRun(runId); // a hash collision; never another's run
    // Runs started before fingerprints existed have none to compare: the key alone decides, as it did.
    const differing = existingMemo.params ? differingParameters(existingMemo.params, paramPrints) : [];
    if (differing.length) {
      throw new UserError(
        `idempotencyKey "${key}" was already used for run ${runId} with different parameters (${differing.join(', ')}). ` +
          'Repeat the same parameters to get that run, or use a new key to start a new one.',
      );
    }
    const existing = await this.readStatus(runId);
    return { runId, status: existing.status, created: false };
  }

  /** get_run_status: the run's status, if it is the caller's (another principal's run is unknown). */
  async status(runId: string, caller: Caller): Promise<RunStatus> {
    await this.ready();
    return this.present(await this.readStatus(runId), caller);
  }

  /** What a caller may see of a status: only its own runs, without the owner, credentials redacted. */
  private present(status: RunStatus, caller: Caller): RunStatus {
    if (ownerOf(status) !== caller.principal) throw unknownRun(status.runId);
    const { owner: _owner, ...visible } = status;
    return redactStatus(visible);
  }

  /** Throws "no such run" unless the described run is the caller's. */
  private async describeOwned(runId: string, caller: Caller): Promise<{ handle: WorkflowHandle; desc: WorkflowExecutionDescription }> {
    const found = await this.describe(runId);
    if (ownerOf(found.desc.memo) !== caller.principal) throw unknownRun(runId);
    return found;
  }

  /** The run's status with its owner, whoever asks. */
  private async readStatus(runId: string): Promise<RunStatus> {
    const cached = this.closedStatuses.get(runId);
    if (cached) return cached;
    // One round trip of wall time either way: an open run answers from its worker, while the run's
    // last events, read at the same time without waiting, tell whether it closed (how and when) or
    // is still waiting for its first workflow task. Either answers at once; a query would wait for
    // the worker's backlog (a burst of starts) or be rejected as closed.
    let queryError: unknown;
    let record: CloseRecord | undefined;
    const raceOver = new AbortController();
    const query = this.withDeadline(() => this.openRunQueries.getHandle(runId).query(statusQuery));
    const tail = this.withDeadline(() => readRunTail(this.temporal.client, runId)).catch((): RunTail => ({ kind: 'open' }));
    // Only these compete with the query: a close or unstarted tail, or a close while the query waits.
    const decisive = tail.then((found) => (found.kind === 'open' ? this.closeOvertaking(runId, raceOver.signal) : found));
    try {
      const first = await Promise.race([query.then((status) => ({ status })), decisive.then((found) => ({ found }))]);
      if ('status' in first) return first.status;
      query.catch(() => undefined); // rejected as closed, or waiting for a worker: nothing more to learn
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
    const { handle, desc } = await this.describe(runId);
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
   * The run's close, if it comes while a status query waits. Temporal holds a query to a run whose
   * workflow task is pending until that task completes; when that task closes the run, the query goes
   * on to a worker that replays the closed run from its start (seconds under load) only to answer as
   * of before the close. The close event answers the moment it is written. Never settles otherwise.
   */
  private async closeOvertaking(runId: string, raceOver: AbortSignal): Promise<Extract<RunTail, { kind: 'closed' }>> {
    const never = new Promise<never>(() => undefined);
    try {
      await delay(CLOSE_WATCH_AFTER_MS, undefined, { signal: raceOver });
      const { connection } = this.temporal;
      const record = await connection.withAbortSignal(raceOver, () => this.withDeadline(() => awaitRunClose(this.temporal.client, runId)));
      return record ? { kind: 'closed', record } : never;
    } catch {
      return never; // the query answered first, or the poll failed: the query decides
    }
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
  private async closedStatus(runId: string, record: CloseRecord, desc?: WorkflowExecutionDescription): Promise<RunStatus> {
    const handle = this.temporal.client.workflow.getHandle(runId);
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
    if (!desc && !isSnapshotOf(snapshot, runId)) desc = (await this.describe(runId)).desc;
    if (closed === 'completed' && snapshot) {
      return this.remember({ ...snapshot, status: 'completed', ...(closedAt ? { closedAt, updatedAt: closedAt } : {}) });
    }
    const final: RunStatus = {
      // Without a snapshot, describe() is what we have.
      ...(snapshot ?? this.fallbackStatus(runId, desc ?? (await this.describe(runId)).desc)),
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

  /** approve_step: decide a pending approval; repeating a decision is harmless, changing one is an error. */
  async approve(
    runId: string,
    approvalId: string,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    caller: Caller,
  ): Promise<{ runId: string; approvalId: string; decision: 'approve' | 'reject'; status: RunStatusName }> {
    const outcome = await this.decide(runId, approvalId, decision, comment, caller, 'approve_step');
    switch (outcome.kind) {
      case 'applied':
      case 'same':
        return { runId, approvalId, decision, status: outcome.status };
      case 'changed':
        throw new UserError(`Approval "${approvalId}" was already decided as "${outcome.decision}"; it cannot change.`);
      case 'closed':
        throw new UserError(`Run ${runId} is ${outcome.status}; it has no pending approvals.`);
      case 'unknown':
        throw new UserError(
          `approvalId "${approvalId}" is not pending for run ${runId}. Pending approvals: ${outcome.pendingIds.length ? outcome.pendingIds.join(', ') : 'none'}. ` +
            'Call get_run_status to see them with their summaries.',
        );
    }
  }

  /**
   * Decides a pending approval through any channel (approve_step, an elicitation form, tasks/update);
   * the first decision wins and the outcome says what became of this one.
   */
  async decide(
    runId: string,
    approvalId: string,
    decision: 'approve' | 'reject',
    comment: string | undefined,
    caller: Caller,
    channel: DecisionChannel,
  ): Promise<DecideOutcome> {
    await this.ready();
    const { handle, desc } = await this.describeOwned(runId, caller);
    const closed = CLOSED_STATUS[desc.status.name];
    if (closed) {
      // Repeating a decision that was made is harmless even after the run closed.
      const past = await this.withDeadline(() => handle.query(approvalQuery, approvalId)).catch(() => undefined);
      if (past?.state === 'decided' && past.decision === decision) return { kind: 'same', status: closed };
      if (past?.state === 'decided' && past.decision) return { kind: 'changed', decision: past.decision };
      return { kind: 'closed', status: closed };
    }
    const lookup: ApprovalLookup = await this.withDeadline(() => handle.query(approvalQuery, approvalId)).catch(() => {
      // No worker to answer: the memo still lists what is pending, and the signal waits in history.
      const pendingIds = (desc.memo as RunMemo | undefined)?.pendingApprovalIds ?? [];
      return { state: pendingIds.includes(approvalId) ? 'pending' : 'unknown', pendingIds };
    });
    if (lookup.state === 'unknown') return { kind: 'unknown', pendingIds: lookup.pendingIds };
    const stillWaiting = lookup.pendingIds.some((id) => id !== approvalId);
    const status: RunStatusName = stillWaiting ? 'waiting_for_approval' : 'running';
    if (lookup.state === 'decided') {
      return lookup.decision === decision ? { kind: 'same', status } : { kind: 'changed', decision: lookup.decision ?? 'approve' };
    }
    await this.clientFor(caller)
      .getHandle(runId)
      .signal(decideSignal, { approvalId, decision, ...(comment ? { comment } : {}), by: describeCaller(caller), channel });
    return { kind: 'applied', status };
  }

  /** Shutdown: end the waits of get_run_result now, so in-flight requests can finish promptly. */
  endWaits(): void {
    this.stopping = true;
    this.stopWaits.abort();
  }

  /** True once shutdown began: long waits (tasks/result) end instead of starting another slice. */
  isStopping(): boolean {
    return this.stopping;
  }

  /** How long Temporal keeps a closed run readable: the namespace's retention, read once. */
  async retentionMs(): Promise<number> {
    await this.ready();
    this.retention ??= this.withDeadline(() =>
      this.temporal.connection.workflowService.describeNamespace({ namespace: this.temporal.namespace }),
    ).then(
      (res) => {
        const ttl = res.config?.workflowExecutionRetentionTtl;
        const ms = ttl ? Number(ttl.seconds ?? 0) * 1000 + Math.floor((ttl.nanos ?? 0) / 1e6) : 0;
        return ms > 0 ? ms : DEFAULT_RETENTION_MS;
      },
      () => {
        this.retention = undefined; // asked again next time
        return DEFAULT_RETENTION_MS;
      },
    );
    return this.retention;
  }

  /** For /healthz: can we reach Temporal, and does a worker poll the task queue? */
  async health(): Promise<{ temporal: 'reachable' | 'unreachable'; worker: 'polling' | 'none' | 'unknown'; taskQueue: string; error?: string }> {
    const taskQueue = this.config.taskQueue;
    try {
      await this.ready();
      const res = await this.withDeadline(() =>
        this.temporal.connection.workflowService.describeTaskQueue({
          namespace: this.temporal.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
        }),
      );
      return { temporal: 'reachable', worker: res.pollers?.length ? 'polling' : 'none', taskQueue };
    } catch (err) {
      return { temporal: 'unreachable', worker: 'unknown', taskQueue, error: err instanceof Error ? err.message : String(err) };
    }
  }

  /** get_run_history: the run's timeline, a page at a time; the cursor is an index into it. */
  async history(
    runId: string,
    cursor: string | undefined,
    limit: number | undefined,
    caller: Caller,
  ): Promise<{ runId: string; entries: HistoryEntry[]; nextCursor?: string }> {
    await this.ready();
    await this.describeOwned(runId, caller); // a clear error for an unknown runId (or another's)
    let start = 0;
    if (cursor !== undefined) {
      const decoded = Number(/^h(\d+)$/.exec(cursor)?.[1]);
      if (!Number.isSafeInteger(decoded)) throw new UserError('cursor is not valid: pass the nextCursor value from a previous get_run_history answer, or omit it.');
      start = decoded;
    }
    const timeline = await runTimeline(this.temporal.client, runId);
    const entries = timeline.slice(start, start + (limit ?? 50)).map(redactHistoryEntry);
    const next = start + entries.length;
    return next < timeline.length ? { runId, entries, nextCursor: `h${next}` } : { runId, entries };
  }

  /** send_message: guidance for a running agent, seen by the model before its next turn. */
  async sendMessage(runId: string, message: string, caller: Caller): Promise<{ runId: string; status: RunStatusName; delivered: true }> {
    await this.ready();
    const { desc } = await this.describeOwned(runId, caller);
    const closed = CLOSED_STATUS[desc.status.name];
    if (closed) throw new UserError(`Run ${runId} is ${closed}; it takes no more messages. Start a new run to continue the work.`);
    await this.clientFor(caller).getHandle(runId).signal(messageSignal, message);
    const memo = (desc.memo ?? {}) as RunMemo;
    return { runId, status: memo.agentStatus ?? 'running', delivered: true };
  }

  async cancel(runId: string, caller: Caller): Promise<{ runId: string; status: RunStatusName }> {
    await this.ready();
    const { handle, desc } = await this.describeOwned(runId, caller);
    const closed = CLOSED_STATUS[desc.status.name];
    if (closed) return { runId, status: closed };
    await this.clientFor(caller).getHandle(runId).cancel();
    // Give the workflow a moment to wind down so the answer is the final status.
    await this.waitForClose(handle, 5_000);
    const status = CLOSED_STATUS[(await handle.describe()).status.name];
    return { runId, status: status ?? 'running' };
  }

  /** list_runs: the caller's runs, newest first, a page at a time (see runList.ts). */
  async list(params: ListParams, caller: Caller): Promise<RunPage> {
    await this.ready();
    return this.runList.list(params, caller.principal);
  }

  /** Waits up to waitSeconds for the run to close, reporting progress, then returns its status. */
  async result(
    runId: string,
    waitSeconds: number,
    caller: Caller,
    onProgress?: (elapsed: number, status: RunStatusName) => Promise<void>,
  ): Promise<RunStatus> {
    await this.ready();
    const cached = this.closedStatuses.get(runId);
    if (cached || waitSeconds <= 0) return this.present(cached ?? (await this.readStatus(runId)), caller);
    const { handle } = await this.describeOwned(runId, caller);
    const started = Date.now();
    const deadline = started + waitSeconds * 1000;
    let settled: Settled | undefined;
    while (!settled && Date.now() < deadline && !this.stopping) {
      settled = await this.waitForClose(handle, Math.min(WAIT_SLICE_MS, deadline - Date.now()));
      if (!settled && onProgress && !this.stopping) {
        const current = await handle.describe();
        const memo = (current.memo ?? {}) as RunMemo;
        await onProgress((Date.now() - started) / 1000, CLOSED_STATUS[current.status.name] ?? memo.agentStatus ?? 'running').catch(
          () => undefined,
        );
      }
    }
    if (!settled) return this.present(await this.readStatus(runId), caller);
    // Closed: the long poll already brought its result, so one describe (close time) completes the answer.
    const { desc } = await this.describe(runId);
    return this.present(CLOSED_STATUS[desc.status.name] ? await this.closedStatus(runId, { ...closeOf(desc), settled }, desc) : await this.readStatus(runId), caller);
  }

  /**
   * The run's result if it closes within `ms`: a long poll on its history that returns the moment it
   * closes (so a waiting caller hears of it at once), ended early by shutdown.
   */
  private async waitForClose(handle: WorkflowHandle, ms: number): Promise<Settled | undefined> {
    const started = Date.now();
    const connection = this.temporal.connection;
    try {
      const value: unknown = await connection.withAbortSignal(this.stopWaits.signal, () =>
        connection.withDeadline(started + ms, () => handle.result()),
      );
      return { value };
    } catch (err) {
      if (err instanceof WorkflowFailedError) return { error: err }; // failed, cancelled, terminated or timed out
      if (err instanceof WorkflowNotFoundError || isNotFound(err)) throw unknownRun(handle.workflowId);
      // The deadline passed, shutdown began, or Temporal did not answer: do not spin on a fast error.
      const left = ms - (Date.now() - started);
      if (left > 0 && !this.stopping) await sleep(Math.min(left, 500));
      return undefined;
    }
  }

  private async describe(runId: string): Promise<{ handle: WorkflowHandle; desc: WorkflowExecutionDescription }> {
    const handle = this.temporal.client.workflow.getHandle(runId);
    try {
      const desc = await handle.describe();
      if (desc.type !== WORKFLOW_TYPE) throw new WorkflowNotFoundError('not an agent run', runId, undefined);
      return { handle, desc };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || isNotFound(err)) throw unknownRun(runId);
      throw err;
    }
  }

  private withDeadline<T>(fn: () => Promise<T>): Promise<T> {
    return this.temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, fn);
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
      const res = await this.temporal.connection.workflowService.describeTaskQueue({
        namespace: this.temporal.namespace,
        taskQueue: { name: this.config.taskQueue },
        taskQueueType: 1, // TASK_QUEUE_TYPE_WORKFLOW
      });
      if (!res.pollers?.length) {
        return `no worker is polling task queue "${this.config.taskQueue}", so the run cannot make progress or answer; start \`durable-agent-mcp worker\` (status below is what Temporal itself knows)`;
      }
    } catch {
      /* unknown: say nothing */
    }
    return undefined;
  }

  private fallbackStatus(runId: string, desc: WorkflowExecutionDescription, note?: string): RunStatus {
    const memo = (desc.memo ?? {}) as RunMemo;
    const startedAt = memo.startedAt ?? desc.startTime.toISOString();
    return {
      runId,
      status: CLOSED_STATUS[desc.status.name] ?? memo.agentStatus ?? 'running',
      task: memo.task ?? '',
      step: memo.agentStep ?? 0,
      maxSteps: memo.maxSteps ?? 0,
      pendingApprovals: [],
      usage: { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 },
      ...(note ? { error: note } : {}),
      startedAt,
      updatedAt: (desc.closeTime ?? desc.startTime).toISOString(),
      ...(memo.owner ? { owner: memo.owner } : {}),
    };
  }
}

/** A `tools` entry of start_agent_run: a built-in name, `<server>__<tool>`, `<server>__*` or `*`. */
function isToolPattern(name: string): boolean {
  return name === '*' || AGENT_TOOL_NAMES.includes(name) || WORKSPACE_TOOL_NAMES.includes(name) || isMcpToolName(name);
}

async function settle(handle: WorkflowHandle): Promise<Settled> {
  try {
    return { value: (await handle.result()) as unknown };
  } catch (error) {
    return { error };
  }
}

/** What describe() tells of a closed run's close. */
function closeOf(desc: WorkflowExecutionDescription): CloseRecord {
  const closedAt = desc.closeTime?.toISOString();
  return { status: CLOSED_STATUS[desc.status.name] ?? 'failed', ...(closedAt ? { closedAt } : {}) };
}

/** Whether a value is a status snapshot of this run, as a completed or failed agent run carries. */
function isSnapshotOf(value: unknown, runId: string): value is RunStatus {
  const candidate = value as Partial<RunStatus> | null;
  return typeof candidate === 'object' && candidate !== null && candidate.runId === runId && typeof candidate.step === 'number';
}

/** The identity Temporal records for what a caller signals or cancels (shown as `by` in the history). */
function describeCaller(caller: Caller): string {
  return `${caller.principal} via ${caller.client}`.slice(0, 200);
}

function unknownRun(runId: string): UserError {
  return new UnknownRunError(`No run with runId "${runId}". Use list_runs to find runs, or start_agent_run to start one.`);
}

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 5;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
