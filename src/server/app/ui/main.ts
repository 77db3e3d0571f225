// The run app: runs inside the host's sandboxed iframe and talks to the server only through the
// host (ext-apps App over postMessage). It opens on the result of start_agent_run, get_run_status,
// get_run_result (one run) or list_runs (a list), then polls get_run_view every 2 s while the run
// is open, and acts through approve_step, cancel_run and send_message.
import { App, applyDocumentTheme, applyHostStyleVariables, type McpUiHostContext } from '@modelcontextprotocol/ext-apps';
import type { HistoryEntry, RunStatus, RunSummary } from '../../../shared/contract.js';
import { append, fill, h } from './dom.js';
import { clock, count, cut, dateTime, elapsed, isOpen, json, STATUS_LABEL } from './format.js';

interface RunView {
  status: RunStatus;
  entries: HistoryEntry[];
  next: number;
  more: boolean;
}

interface ToolAnswer {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: Array<{ type: string; text?: string }>;
}

const POLL_MS = 2_000;

const app = new App({ name: 'durable-agent-run', version: '1.0.0' }, {}, { autoResize: true });
const root = document.getElementById('app') as HTMLElement;

// ---- state ----

let runId: string | undefined;
let status: RunStatus | undefined;
let seen = 0;
let generation = 0; // bumps when the app switches runs: older poll loops stop
let pollTimer: ReturnType<typeof setTimeout> | undefined;
let tick: ReturnType<typeof setInterval> | undefined;
let listRuns: RunSummary[] | undefined;

// ---- host ----

function applyHost(ctx: McpUiHostContext | undefined): void {
  if (!ctx) return;
  if (ctx.theme) applyDocumentTheme(ctx.theme);
  if (ctx.styles?.variables) applyHostStyleVariables(ctx.styles.variables);
}

app.onhostcontextchanged = (ctx) => applyHost({ ...app.getHostContext(), ...ctx });

app.ontoolinput = ({ arguments: args }) => {
  // get_run_status / get_run_result name the run before their result arrives.
  const id = args?.runId;
  if (typeof id === 'string' && id !== runId) openRun(id, false);
};

app.ontoolresult = (result) => {
  const answer = result as ToolAnswer;
  const sc = answer.structuredContent;
  if (answer.isError || !sc) {
    showNotice(textOf(answer) || 'The tool call failed.');
    return;
  }
  if (Array.isArray(sc.runs)) {
    showList(sc.runs as RunSummary[], typeof sc.nextCursor === 'string' ? sc.nextCursor : undefined);
    return;
  }
  if (typeof sc.runId === 'string') {
    const full = typeof sc.task === 'string' ? (sc as unknown as RunStatus) : undefined;
    if (sc.runId !== runId) return openRun(sc.runId, false, full);
    // Already open from the tool's input: show the result's status until the next poll.
    if (full && !status) {
      status = full;
      renderStatus();
    }
  }
};

app.onteardown = () => {
  stopPolling();
  return {};
};

// ---- calls through the host ----

async function call(name: string, args: Record<string, unknown>): Promise<ToolAnswer> {
  return (await app.callServerTool({ name, arguments: args })) as ToolAnswer;
}

function textOf(answer: ToolAnswer): string {
  return (answer.content ?? []).map((c) => (c.type === 'text' ? (c.text ?? '') : '')).join('\n');
}

// ---- the run view ----

const els = {
  header: h('header', { class: 'run-head' }),
  stats: h('section', { class: 'stats', 'aria-label': 'Progress' }),
  notice: h('div', { class: 'notice', role: 'alert', hidden: true }),
  approvals: h('section', { class: 'approvals', 'aria-label': 'Pending approvals' }),
  outcome: h('section', { class: 'outcome' }),
  controls: h('section', { class: 'controls', 'aria-label': 'Steer the run' }),
  children: h('section', { class: 'children' }),
  timeline: h('ol', { class: 'timeline', 'aria-label': 'Timeline' }),
};
const approvalCards = new Map<string, HTMLElement>();

function openRun(id: string, fromList: boolean, initial?: RunStatus): void {
  stopPolling();
  generation++;
  runId = id;
  status = initial;
  seen = 0;
  pollAgain = false;
  approvalCards.clear();
  fill(els.timeline);
  fill(els.approvals);
  fill(els.notice);
  els.notice.hidden = true;
  buildControls();
  fill(
    root,
    fromList || listRuns ? h('button', { type: 'button', class: 'link back', 'data-action': 'back' }, '← All runs') : null,
    els.header,
    els.stats,
    els.notice,
    els.approvals,
    els.outcome,
    els.controls,
    els.children,
    h('h2', {}, 'Timeline'),
    els.timeline,
  );
  root.querySelector('[data-action=back]')?.addEventListener('click', () => void reloadList());
  if (status) renderStatus();
  else fill(els.header, h('p', { class: 'muted' }, `Loading ${id}…`));
  tick = setInterval(renderElapsed, 1_000);
  void poll(generation);
}

/** The run whose get_run_view call is in flight, so two polls never ask from the same `seen`. */
let inFlight: number | undefined;
let pollAgain = false;

function schedule(ms: number): void {
  if (pollTimer) clearTimeout(pollTimer);
  const gen = generation;
  pollTimer = setTimeout(() => void poll(gen), ms);
}

async function poll(gen: number): Promise<void> {
  if (gen !== generation || !runId) return;
  if (inFlight === gen) {
    pollAgain = true; // e.g. right after a decision: ask again as soon as this answer is in
    return;
  }
  inFlight = gen;
  pollTimer = undefined;
  let next = POLL_MS;
  let gone = false;
  try {
    const answer = await call('get_run_view', { runId, since: seen });
    if (gen !== generation) return;
    if (answer.isError || !answer.structuredContent) {
      showNotice(textOf(answer) || 'Could not read the run.');
      gone = status === undefined; // never seen: unknown (or not the caller's); stop asking
      if (gone) fill(els.header);
    } else {
      const view = answer.structuredContent as unknown as RunView;
      clearNotice();
      status = view.status;
      for (const e of view.entries) els.timeline.append(renderEntry(e));
      seen = view.next;
      renderStatus();
      if (view.more) next = 0;
    }
  } catch (err) {
    if (gen !== generation) return;
    showNotice(`Could not reach the server: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    if (inFlight === gen) inFlight = undefined;
  }
  if (pollAgain) {
    pollAgain = false;
    next = 0;
  }
  // Poll while the run is open; once it has closed, the last answer had the whole timeline.
  const open = status ? isOpen(status.status) : !gone;
  if (open || next === 0) schedule(next);
  else stopPolling();
}

function stopPolling(): void {
  if (pollTimer) clearTimeout(pollTimer);
  if (tick) clearInterval(tick);
  pollTimer = undefined;
  tick = undefined;
}

function refreshSoon(): void {
  const gen = generation;
  if (inFlight === gen) pollAgain = true;
  else schedule(150);
}

function showNotice(text: string): void {
  if (!root.contains(els.notice)) fill(root, els.notice);
  fill(els.notice, text);
  els.notice.hidden = false;
}

function clearNotice(): void {
  els.notice.hidden = true;
  fill(els.notice);
}

function badge(s: string): HTMLElement {
  return h('span', { class: `badge s-${s}`, 'data-status': s }, STATUS_LABEL[s] ?? s);
}

function renderStatus(): void {
  if (!status) return;
  const s = status;
  document.documentElement.dataset.runStatus = s.status;
  fill(
    els.header,
    h('div', { class: 'title-row' }, badge(s.status), h('code', { class: 'run-id', title: 'runId' }, s.runId)),
    h('p', { class: 'task', 'data-field': 'task' }, s.task),
    s.parentRunId ? h('p', { class: 'muted small' }, 'Sub-agent of ', h('code', {}, s.parentRunId)) : null,
  );

  const pct = s.maxSteps > 0 ? Math.min(100, Math.round((s.step / s.maxSteps) * 100)) : 0;
  const bar = h('div', { class: 'bar-fill' });
  bar.style.width = `${pct}%`;
  fill(
    els.stats,
    h(
      'div',
      { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(s.maxSteps), 'aria-valuenow': String(s.step) },
      h('div', { class: 'progress-label' }, h('span', { 'data-field': 'step' }, `Step ${s.step} of ${s.maxSteps}`), h('span', { class: 'elapsed', 'data-field': 'elapsed' }, elapsed(s.startedAt, s.closedAt, Date.now()))),
      h('div', { class: 'bar' }, bar),
    ),
    h(
      'dl',
      { class: 'usage' },
      stat('Model calls', count(s.usage.llmCalls)),
      stat('Tool calls', count(s.usage.toolCalls)),
      stat('Tokens in', count(s.usage.inputTokens)),
      stat('Tokens out', count(s.usage.outputTokens)),
    ),
    s.waiting ? h('p', { class: 'muted small' }, `Waiting until ${clock(s.waiting.until)}: ${s.waiting.reason}`) : null,
    ...(s.warnings ?? []).map((w) => h('p', { class: 'warn small' }, w)),
  );

  renderApprovals(s);

  fill(
    els.outcome,
    s.result !== undefined ? h('div', { class: 'result', 'data-field': 'result' }, h('h2', {}, 'Result'), h('pre', { class: 'text' }, s.result)) : null,
    s.error !== undefined ? h('div', { class: 'error', 'data-field': 'error' }, h('h2', {}, 'Error'), h('pre', { class: 'text' }, s.error)) : null,
  );

  els.controls.hidden = !isOpen(s.status);

  const kids = s.children ?? [];
  fill(
    els.children,
    kids.length
      ? h(
          'div',
          {},
          h('h2', {}, `Sub-agents (${kids.length})`),
          h(
            'ul',
            { class: 'child-list' },
            ...kids.map((c) => {
              const b = h('button', { type: 'button', class: 'row-button' }, badge(c.status), h('span', { class: 'row-task' }, cut(c.task, 160)));
              b.addEventListener('click', () => openRun(c.runId, true));
              return h('li', {}, b);
            }),
          ),
        )
      : null,
  );
}

function stat(label: string, value: string): HTMLElement {
  return h('div', {}, h('dt', {}, label), h('dd', {}, value));
}

function renderElapsed(): void {
  const el = els.stats.querySelector('[data-field=elapsed]');
  if (el && status) el.textContent = elapsed(status.startedAt, status.closedAt, Date.now());
}

function renderApprovals(s: RunStatus): void {
  const pending = new Set(s.pendingApprovals.map((p) => p.approvalId));
  for (const [id, card] of approvalCards) {
    if (!pending.has(id)) {
      card.remove();
      approvalCards.delete(id);
    }
  }
  for (const p of s.pendingApprovals) {
    if (approvalCards.has(p.approvalId)) continue;
    const comment = h('textarea', { rows: '2', placeholder: 'Comment for the agent (optional)', 'aria-label': 'Comment', maxlength: '10000' });
    const approve = h('button', { type: 'button', class: 'primary', 'data-action': 'approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'danger', 'data-action': 'reject' }, 'Reject');
    const note = h('p', { class: 'muted small', 'aria-live': 'polite' });
    const card = h(
      'article',
      { class: 'approval', 'data-approval-id': p.approvalId },
      h('h3', {}, 'Approval needed: ', h('code', {}, p.tool)),
      h('p', { class: 'summary' }, p.summary),
      h('details', { open: true }, h('summary', {}, 'Arguments'), h('pre', { class: 'json' }, json(p.arguments))),
      h('p', { class: 'muted small' }, `Asked ${clock(p.requestedAt)} · expires ${dateTime(p.expiresAt)}`),
      comment,
      h('div', { class: 'buttons' }, approve, reject),
      note,
    );
    const decide = async (decision: 'approve' | 'reject'): Promise<void> => {
      if (!runId) return;
      approve.disabled = reject.disabled = true;
      fill(note, decision === 'approve' ? 'Approving…' : 'Rejecting…');
      try {
        const text = comment.value.trim();
        const answer = await call('approve_step', { runId, approvalId: p.approvalId, decision, ...(text ? { comment: text } : {}) });
        if (answer.isError) {
          fill(note, textOf(answer));
          approve.disabled = reject.disabled = false;
          return;
        }
        fill(note, decision === 'approve' ? 'Approved.' : 'Rejected.');
        refreshSoon();
      } catch (err) {
        fill(note, `Failed: ${err instanceof Error ? err.message : String(err)}`);
        approve.disabled = reject.disabled = false;
      }
    };
    approve.addEventListener('click', () => void decide('approve'));
    reject.addEventListener('click', () => void decide('reject'));
    approvalCards.set(p.approvalId, card);
    els.approvals.append(card);
  }
}

function buildControls(): void {
  const message = h('textarea', { rows: '2', placeholder: 'Guidance for the agent, seen before its next turn', 'aria-label': 'Message', maxlength: '16384' });
  const send = h('button', { type: 'button', 'data-action': 'send' }, 'Send message');
  const cancel = h('button', { type: 'button', class: 'danger subtle', 'data-action': 'cancel' }, 'Cancel run');
  const confirm = h('button', { type: 'button', class: 'danger', 'data-action': 'confirm-cancel', hidden: true }, 'Yes, cancel the run');
  const keep = h('button', { type: 'button', 'data-action': 'keep', hidden: true }, 'Keep running');
  const note = h('p', { class: 'muted small', 'aria-live': 'polite' });

  send.addEventListener('click', () => {
    const text = message.value.trim();
    if (!text || !runId) return;
    send.disabled = true;
    fill(note, 'Sending…');
    call('send_message', { runId, message: text })
      .then((answer) => {
        fill(note, answer.isError ? textOf(answer) : 'Message delivered.');
        if (!answer.isError) message.value = '';
        refreshSoon();
      })
      .catch((err: unknown) => fill(note, `Failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (send.disabled = false));
  });
  // Two steps: cancelling cannot be undone (sandboxed frames may not show confirm()).
  const asking = (on: boolean) => {
    cancel.hidden = on;
    confirm.hidden = keep.hidden = !on;
  };
  cancel.addEventListener('click', () => asking(true));
  keep.addEventListener('click', () => asking(false));
  confirm.addEventListener('click', () => {
    if (!runId) return;
    confirm.disabled = true;
    fill(note, 'Cancelling…');
    call('cancel_run', { runId, reason: 'Cancelled from the run app' })
      .then((answer) => {
        fill(note, answer.isError ? textOf(answer) : 'Cancel requested.');
        refreshSoon();
      })
      .catch((err: unknown) => fill(note, `Failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        confirm.disabled = false;
        asking(false);
      });
  });

  fill(
    els.controls,
    h('div', { class: 'message' }, message, h('div', { class: 'buttons' }, send, h('span', { class: 'spacer' }), cancel, confirm, keep)),
    note,
  );
}

const KIND_LABEL: Record<string, string> = {
  started: 'Started',
  llm_turn: 'Model',
  tool_call: 'Tool',
  retry: 'Retry',
  error: 'Error',
  approval: 'Approval',
  message: 'Message',
  cancel_requested: 'Cancel',
  continued_as_new: 'Continued',
  closed: 'Closed',
};

function renderEntry(e: HistoryEntry): HTMLElement {
  const failed = e.ok === false || e.kind === 'error' || e.kind === 'retry';
  const meta: string[] = [];
  if (e.durationMs !== undefined) meta.push(`${(e.durationMs / 1000).toFixed(1)} s`);
  if (e.attempts !== undefined && e.attempts > 1) meta.push(`${e.attempts} attempts`);
  if (e.usage) meta.push(`${count(e.usage.inputTokens)} in / ${count(e.usage.outputTokens)} out`);
  if (e.by) meta.push(`by ${e.by}`);
  const details: HTMLElement[] = [];
  if (e.arguments !== undefined) details.push(h('details', {}, h('summary', {}, 'Arguments'), h('pre', { class: 'json' }, json(e.arguments))));
  if (e.result !== undefined) details.push(h('pre', { class: 'snippet' }, cut(e.result, 300)));
  if (e.comment) details.push(h('p', { class: 'small' }, `“${e.comment}”`));
  if (e.error) details.push(h('pre', { class: 'snippet err' }, cut(e.error, 300)));
  const item = h(
    'li',
    { class: `entry k-${e.kind}${failed ? ' failed' : ''}${e.decision ? ` d-${e.decision}` : ''}`, 'data-kind': e.kind },
    h(
      'div',
      { class: 'entry-head' },
      h('span', { class: 'kind' }, KIND_LABEL[e.kind] ?? e.kind),
      e.tool ? h('code', { class: 'tool' }, e.tool) : null,
      h('time', { datetime: e.at }, clock(e.at)),
    ),
    h('p', { class: 'entry-summary' }, e.summary),
    meta.length ? h('p', { class: 'muted small' }, meta.join(' · ')) : null,
  );
  append(item, ...details);
  return item;
}

// ---- the runs list ----

function runRow(r: RunSummary): HTMLElement {
  const b = h(
    'button',
    { type: 'button', class: 'row-button', 'data-run-id': r.runId },
    badge(r.status),
    h('span', { class: 'row-task' }, r.parentRunId ? h('span', { class: 'muted small' }, 'sub-agent · ') : null, cut(r.task, 200)),
    h('span', { class: 'muted small row-time' }, dateTime(r.startedAt)),
  );
  b.addEventListener('click', () => openRun(r.runId, true));
  return h('li', {}, b);
}

function showList(runs: RunSummary[], nextCursor: string | undefined): void {
  stopPolling();
  generation++;
  runId = undefined;
  status = undefined;
  listRuns = runs;
  delete document.documentElement.dataset.runStatus;
  const refresh = h('button', { type: 'button', class: 'link', 'data-action': 'refresh' }, 'Refresh');
  refresh.addEventListener('click', () => void reloadList());
  const list = h('ul', { class: 'run-list' }, ...runs.map(runRow));
  // list_runs pages newest first; "More" asks for the next page and appends it.
  let cursor = nextCursor;
  const more = h('button', { type: 'button', class: 'link', 'data-action': 'more', hidden: !cursor }, 'More runs');
  more.addEventListener('click', () => {
    if (!cursor) return;
    more.disabled = true;
    call('list_runs', { cursor })
      .then((answer) => {
        if (answer.isError || !answer.structuredContent) return showNotice(textOf(answer) || 'Could not list runs.');
        const page = answer.structuredContent as { runs: RunSummary[]; nextCursor?: string };
        list.append(...page.runs.map(runRow));
        cursor = page.nextCursor;
        more.hidden = !cursor;
      })
      .catch((err: unknown) => showNotice(`Could not reach the server: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => (more.disabled = false));
  });
  fill(
    root,
    h('header', { class: 'list-head' }, h('h1', {}, 'Agent runs'), refresh),
    els.notice,
    runs.length ? list : h('p', { class: 'muted' }, 'No runs yet.'),
    more,
  );
  clearNotice();
}

async function reloadList(): Promise<void> {
  try {
    const answer = await call('list_runs', {});
    if (answer.isError || !answer.structuredContent) return showNotice(textOf(answer) || 'Could not list runs.');
    const page = answer.structuredContent as { runs: RunSummary[]; nextCursor?: string };
    showList(page.runs, page.nextCursor);
  } catch (err) {
    showNotice(`Could not reach the server: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// ---- start ----

fill(root, h('p', { class: 'muted' }, 'Waiting for the run…'));
app
  .connect()
  .then(() => applyHost(app.getHostContext()))
  .catch((err: unknown) => showNotice(`Could not connect to the host: ${err instanceof Error ? err.message : String(err)}`));
