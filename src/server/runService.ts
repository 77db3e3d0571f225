// Everything the MCP tools do to runs, in Temporal terms: start a workflow, signal, cancel,
// describe and list; reading a status is runStatusRead.ts. Tools stay thin; this file owns the mapping.
import { randomUUID } from 'node:crypto';
import {
  WorkflowClient,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
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
import { approvalQuery, decideSignal, messageSignal } from '../shared/runMessages.js';
import { newRunSearchAttributes } from '../shared/searchAttributes.js';
import { AGENT_TOOL_NAMES } from '../shared/agentTools.js';
import { isMcpToolName, WORKSPACE_TOOL_NAMES } from '../shared/toolbox.js';
import { MEMO_TASK_CHARS } from '../shared/statusRecord.js';
import type { Settled } from './runTail.js';
import { differingParameters, fingerprint, runIdForKey } from './idempotency.js';
import type { Caller } from './principal.js';
import { redactHistoryEntry, redactStatus } from './redact.js';
import { runTimeline, type HistoryEntry } from './runHistory.js';
import { RunList, type ListParams, type RunPage } from './runList.js';
import { CLOSED_STATUS, closeOf, isNotFound, ownerOf, unknownRun, type RunMemo } from './runRecord.js';
import { QUERY_DEADLINE_MS, RunStatusReader } from './runStatusRead.js';
import { UserError } from './toolResult.js';

/** get_run_result and cancel_run long-poll for the close in slices this long (progress, shutdown). */
const WAIT_SLICE_MS = 2_000;

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
  /** Clients whose identity names a caller, so history says who signalled or cancelled. */
  private readonly callerClients = new Map<string, WorkflowClient>();
  /** The namespace's retention: how long a closed run stays readable (asked once). */
  private retention: Promise<number> | undefined;
  /** list_runs, and whether runs carry the search attributes it filters on (asked once, at connection). */
  private listing: RunList | undefined;
  /** get_run_status's read, shared by every tool that shows a status. */
  private readonly statuses: RunStatusReader;

  /** `connect` is called lazily and again after a failure, so a Temporal outage never kills the server. */
  /**
   * `connectWaitMs`: how long a tool waits for the first connection before answering with an error;
   * short for a Temporal that should already be up, longer while an embedded one is starting.
   */
  constructor(
    private readonly config: Config,
    private readonly connect: () => Promise<TemporalHandle>,
    private readonly connectWaitMs = 5_000,
  ) {
    this.statuses = new RunStatusReader({
      temporal: () => this.temporal,
      openRunQueries: () => this.openRunQueries,
      describe: (runId) => this.describe(runId),
      taskQueue: config.taskQueue,
    });
  }

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
    const existing = await this.statuses.read(runId);
    return { runId, status: existing.status, created: false };
  }

  /** get_run_status: the run's status, if it is the caller's (another principal's run is unknown). */
  async status(runId: string, caller: Caller): Promise<RunStatus> {
    await this.ready();
    return this.present(await this.statuses.read(runId), caller);
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
    const cached = this.statuses.cached(runId);
    if (cached || waitSeconds <= 0) return this.present(cached ?? (await this.statuses.read(runId)), caller);
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
    if (!settled) return this.present(await this.statuses.read(runId), caller);
    // Closed: the long poll already brought its result, so one describe (close time) completes the answer.
    const { desc } = await this.describe(runId);
    return this.present(CLOSED_STATUS[desc.status.name] ? await this.statuses.closedStatus(runId, { ...closeOf(desc), settled }, desc) : await this.statuses.read(runId), caller);
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


}

/** A `tools` entry of start_agent_run: a built-in name, `<server>__<tool>`, `<server>__*` or `*`. */
function isToolPattern(name: string): boolean {
  return name === '*' || AGENT_TOOL_NAMES.includes(name) || WORKSPACE_TOOL_NAMES.includes(name) || isMcpToolName(name);
}

/** The identity Temporal records for what a caller signals or cancels (shown as `by` in the history). */
function describeCaller(caller: Caller): string {
  return `${caller.principal} via ${caller.client}`.slice(0, 200);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
