// list_runs: the caller's runs, newest first (startedAt, then runId, both descending), a page at a
// time behind an opaque cursor. Where the namespace has the DurableAgent* search attributes, owner
// and status are filtered, and the page located, in Temporal's visibility store, so the cost follows
// the page and not the number of runs; elsewhere up to LIST_SCAN_LIMIT runs are scanned in memory.
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { isClosedStatus, WORKFLOW_TYPE, type RunStatusName, type RunSummary } from '../shared/contract.js';
import { ownerKeyword, RUN_OWNER, RUN_STARTED_AT, RUN_STATUS } from '../shared/searchAttributes.js';
import type { TemporalHandle } from '../temporal/connect.js';
import { CLOSED_STATUS, ownerOf, type RunMemo } from './runRecord.js';
import { UserError } from './toolResult.js';

/** The scan without search attributes stops after this many runs (newest closed first, as Temporal lists). */
const LIST_SCAN_LIMIT = 5_000;
/**
 * How many runs round one reads per run wanted: visibility lists closed runs by close time, so a
 * long run that closed lately may come before newer short ones.
 */
const PROBE_FACTOR = 2;
/** A guessed window is given up beyond this many runs per run wanted (a burst of runs since the guess). */
const GUESS_FACTOR = 4;
/** Visibility page size when a whole window of runs is read. */
const WINDOW_PAGE = 1_000;
/** How many callers' (and status filters') last windows are remembered as guesses. */
const GUESSES_MAX = 1_000;
/** A window from here holds every run. */
const EVERYTHING = new Date(0).toISOString();

const BASE_CLAUSES = [`WorkflowType = '${WORKFLOW_TYPE}'`, "ExecutionStatus != 'ContinuedAsNew'"];

const STATUS_FILTER: Record<RunStatusName, string> = {
  running: "ExecutionStatus = 'Running'",
  waiting_for_approval: "ExecutionStatus = 'Running'",
  completed: "ExecutionStatus = 'Completed'",
  failed: "(ExecutionStatus = 'Failed' OR ExecutionStatus = 'Terminated')",
  cancelled: "ExecutionStatus = 'Canceled'",
  timed_out: "ExecutionStatus = 'TimedOut'",
};

export interface ListParams {
  status?: RunStatusName;
  limit?: number;
  cursor?: string;
}

export interface RunPage {
  runs: RunSummary[];
  nextCursor?: string;
}

/** Where a page starts: after the run with this startedAt and runId. */
interface Cursor {
  s: string;
  r: string;
  /** Where the page's window may begin: a guess, used only where the window proves it. */
  w?: string;
}

/** Runs read for a page; every run with the attributes from `from` up to the cursor is among them. */
interface Found {
  runs: RunSummary[];
  from?: string;
}

export class RunList {
  /** Where each caller's last first page began (per status filter): the guess for the next one. */
  private readonly guesses = new Map<string, string>();

  /** `searchAttributes`: whether the namespace has them (asked once at start-up). */
  constructor(
    private readonly temporal: TemporalHandle,
    readonly searchAttributes: Promise<boolean>,
  ) {}

  async list(params: ListParams, principal: string): Promise<RunPage> {
    const limit = params.limit ?? 20;
    const after = params.cursor ? decodeCursor(params.cursor) : undefined;
    // One more than a page tells whether there is a next one.
    const found: Found = (await this.searchAttributes)
      ? await this.fromVisibility(params.status, limit + 1, after, principal)
      : { runs: await this.scan([...BASE_CLAUSES, ...(params.status ? [STATUS_FILTER[params.status]] : [])], params.status, principal) };
    const eligible = newestFirst(found.runs).filter((r) => !after || isAfter(r, after));
    const runs = eligible.slice(0, limit);
    const last = runs[runs.length - 1];
    if (eligible.length <= limit || !last) return { runs };
    return { runs, nextCursor: encodeCursor(last, found.from && nextGuess(found.from, eligible, limit)) };
  }

  /**
   * Runs that include the `wanted` newest eligible ones. Any window of DurableAgentStartedAt that
   * holds `wanted` eligible runs holds the page, so a guess (where the last such window began) is
   * tried first; failing that, a probe finds the window. Runs without the attributes (started by
   * older code) are read whole, alongside.
   */
  private async fromVisibility(status: RunStatusName | undefined, wanted: number, after: Cursor | undefined, principal: string): Promise<Found> {
    const request: ListRequest = {
      mine: [...BASE_CLAUSES, `${RUN_OWNER.name} = ${quote(ownerKeyword(principal))}`, ...attributeStatusFilter(status)],
      principal,
      status,
      wanted,
      ...(after ? { after, upTo: canonicalTime(after.s) } : {}),
    };
    // Without a status clause, which would make SQL visibility walk every run of that status.
    const older = this.scan([...BASE_CLAUSES, `${RUN_STARTED_AT.name} IS NULL`], status, principal);
    older.catch(() => undefined); // awaited below
    const key = `${principal}\n${status ?? ''}`;
    const guess = after ? after.w : this.guesses.get(key);
    const found = (guess !== undefined ? await this.guessed(request, guess, older) : undefined) ?? (await this.probed(request, older));
    if (!after && found.from) {
      this.guesses.delete(key);
      this.guesses.set(key, found.from);
      if (this.guesses.size > GUESSES_MAX) this.guesses.delete(this.guesses.keys().next().value!);
    }
    return found;
  }

  /** The window from `from`, if it holds the page: `wanted` eligible runs, and not a burst too big to read. */
  private async guessed(request: ListRequest, from: string, older: Promise<RunSummary[]>): Promise<Found | undefined> {
    const cap = GUESS_FACTOR * request.wanted;
    const rows = await this.firstRuns(query(...request.mine, ...startedBetween(from, request.upTo)), cap);
    if (rows.length >= cap) return undefined;
    const runs = [...summaries(rows, request), ...(await older)];
    const held = runs.filter((r) => r.startedAt >= from && (!request.after || isAfter(r, request.after))).length;
    return from === EVERYTHING || held >= request.wanted ? { runs, from } : undefined;
  }

  /**
   * Round one: the caller's first runs as visibility lists them (open ones by start time, then
   * closed ones by close time). `wanted` eligible runs among them prove the page starts no earlier
   * than the wanted-th newest startedAt; round two reads that window, leaving out the runs round one
   * brought (usually all of them).
   */
  private async probed(request: ListRequest, older: Promise<RunSummary[]>): Promise<Found> {
    const { mine, upTo, after, status, wanted } = request;
    // From the cursor on by Temporal's StartTime: SQL visibility then walks the owner's index in list
    // order instead of sorting every run up to the cursor. Round one only has to find runs.
    const fromCursor = upTo ? [`StartTime <= ${quote(upTo)}`] : [];
    const probeSize = PROBE_FACTOR * wanted;
    const probe = await this.firstRuns(query(...mine, ...fromCursor), probeSize);
    const complete = probe.length < probeSize;
    if (!complete && (!status || isClosedStatus(status)) && probe.every((info) => !CLOSED_STATUS[info.status.name])) {
      // Nothing but open runs (parked ones, say): the most recently closed runs bound the page better.
      probe.push(...(await this.firstRuns(query(...mine, "ExecutionStatus != 'Running'", ...fromCursor), probeSize)));
    }
    const probed = [...summaries(probe, request), ...(await older)];
    // Without a cursor round one saw every run when the page was not full.
    if (!upTo && complete) return { runs: probed, from: EVERYTHING };
    const seen = newestFirst([...probed]).filter((r) => !after || isAfter(r, after));
    // Without `wanted` eligible runs in hand (ties on the cursor's startedAt), the window is everything before it.
    const from = seen.length >= wanted ? canonicalTime(seen[wanted - 1]!.startedAt) : EVERYTHING;
    const known = probe
      .filter((info) => {
        const startedAt = (info.memo as RunMemo | undefined)?.startedAt;
        return startedAt !== undefined && startedAt >= from && (!upTo || startedAt <= upTo);
      })
      .map((info) => quote(info.workflowId));
    const missing: RunSummary[] = [];
    const rest = query(...mine, ...startedBetween(from, upTo), ...(known.length ? [`WorkflowId NOT IN (${known.join(', ')})`] : []));
    for await (const info of this.temporal.client.workflow.list({ query: rest, pageSize: WINDOW_PAGE })) missing.push(...summaries([info], request));
    // A run whose attribute and memo disagree on its startedAt could come twice.
    return { runs: [...new Map([...probed, ...missing].map((run) => [run.runId, run])).values()], from };
  }

  /** The first `count` runs the query lists, without asking for a second page. */
  private async firstRuns(q: string, count: number): Promise<WorkflowExecutionInfo[]> {
    const runs: WorkflowExecutionInfo[] = [];
    for await (const info of this.temporal.client.workflow.list({ query: q, pageSize: count })) {
      runs.push(info);
      if (runs.length >= count) break;
    }
    return runs;
  }

  /** The caller's runs among the first LIST_SCAN_LIMIT the query lists, owner and status told by the memo. */
  private async scan(clauses: string[], status: RunStatusName | undefined, principal: string): Promise<RunSummary[]> {
    const found: RunSummary[] = [];
    let scanned = 0;
    for await (const info of this.temporal.client.workflow.list({ query: query(...clauses) })) {
      if (++scanned > LIST_SCAN_LIMIT) break;
      const run = summarize(info, principal, status);
      if (run) found.push(run);
    }
    return found;
  }
}

/** What one list_runs call asks of visibility. */
interface ListRequest {
  /** The clauses every query of the call carries: agent runs, the caller's, the status asked for. */
  mine: string[];
  principal: string;
  status: RunStatusName | undefined;
  wanted: number;
  after?: Cursor;
  /** The cursor's startedAt, as a visibility Datetime. */
  upTo?: string;
}

/**
 * DurableAgentStartedAt from `from` up to `upTo`, both included. SQL visibility compares Datetimes
 * as text and writes a literal without its trailing zeros (…24.590 as …24.59), so `<= …24.590` would
 * miss a run started at .590: the upper bound is `<` the next millisecond.
 */
function startedBetween(from: string, upTo: string | undefined): string[] {
  return [
    ...(from !== EVERYTHING ? [`${RUN_STARTED_AT.name} >= ${quote(from)}`] : []),
    ...(upTo ? [`${RUN_STARTED_AT.name} < ${quote(new Date(Date.parse(upTo) + 1).toISOString())}`] : []),
  ];
}

/**
 * Where the next page's window may begin: this one's start while it holds a page below `last`, else
 * as much deeper as the missing runs take at this window's pace, twice over.
 */
function nextGuess(from: string, eligible: RunSummary[], limit: number): string {
  if (from === EVERYTHING) return from;
  const held = eligible.filter((r) => r.startedAt >= from);
  const below = held.length - limit;
  if (below > limit || !held[0]) return from;
  const span = Date.parse(held[0].startedAt) - Date.parse(from) + 1;
  const deeper = Math.ceil(((span * (limit + 1 - below)) / held.length) * 2);
  return new Date(Math.max(Date.parse(from) - deeper, 0)).toISOString();
}

function summaries(infos: WorkflowExecutionInfo[], request: ListRequest): RunSummary[] {
  return infos.map((info) => summarize(info, request.principal, request.status)).filter((run) => run !== undefined);
}

/**
 * The run as list_runs shows it, if it is the principal's and has the status asked for. The memo
 * decides both, also where visibility has filtered already: it is what every other tool goes by.
 */
function summarize(info: WorkflowExecutionInfo, principal: string, status: RunStatusName | undefined): RunSummary | undefined {
  const memo = (info.memo ?? {}) as RunMemo;
  if (ownerOf(memo) !== principal) return undefined;
  const runStatus: RunStatusName = CLOSED_STATUS[info.status.name] ?? memo.agentStatus ?? 'running';
  if (status && runStatus !== status) return undefined;
  return {
    runId: info.workflowId,
    status: runStatus,
    task: memo.task ?? '',
    startedAt: memo.startedAt ?? info.startTime.toISOString(),
    ...(info.closeTime ? { closedAt: info.closeTime.toISOString() } : {}),
    ...(memo.parentRunId ? { parentRunId: memo.parentRunId } : {}),
  };
}

/** An open run's status is its DurableAgentStatus; a closed one's is Temporal's own. */
function attributeStatusFilter(status: RunStatusName | undefined): string[] {
  if (!status) return [];
  if (status === 'running' || status === 'waiting_for_approval') return [STATUS_FILTER[status], `${RUN_STATUS.name} = ${quote(status)}`];
  return [STATUS_FILTER[status]];
}

function query(...clauses: string[]): string {
  return clauses.join(' AND ');
}

/** A string literal of Temporal's list query language. */
function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A startedAt as a visibility Datetime literal; a cursor whose time is no time is not a cursor. */
function canonicalTime(startedAt: string): string {
  const ms = Date.parse(startedAt);
  if (!Number.isFinite(ms)) throw invalidCursor();
  return new Date(ms).toISOString();
}

function newestFirst(runs: RunSummary[]): RunSummary[] {
  return runs.sort((a, b) => (a.startedAt === b.startedAt ? cmp(b.runId, a.runId) : cmp(b.startedAt, a.startedAt)));
}

function isAfter(run: RunSummary, cursor: Cursor): boolean {
  return run.startedAt < cursor.s || (run.startedAt === cursor.s && run.runId < cursor.r);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeCursor(r: RunSummary, guess: string | undefined): string {
  return Buffer.from(JSON.stringify({ s: r.startedAt, r: r.runId, ...(guess ? { w: guess } : {}) })).toString('base64url');
}

function decodeCursor(cursor: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; r?: unknown; w?: unknown };
    if (typeof parsed.s === 'string' && typeof parsed.r === 'string') {
      // Only a hint: one that is no time is ignored.
      const guess = typeof parsed.w === 'string' && Number.isFinite(Date.parse(parsed.w)) ? new Date(parsed.w).toISOString() : undefined;
      return { s: parsed.s, r: parsed.r, ...(guess ? { w: guess } : {}) };
    }
  } catch {
    /* fall through */
  }
  throw invalidCursor();
}

function invalidCursor(): UserError {
  return new UserError('cursor is not valid: pass the nextCursor value from a previous list_runs answer, or omit it.');
}
