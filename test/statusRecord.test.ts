/**
 * Status reads that Temporal would hold behind a workflow task: a run from patch level 2 records its
 * status in its memo each time it waits outside its workflow task, and a read whose query is held
 * behind a pending workflow task (a long local read in the task, a busy worker, a task no worker takes
 * up) is answered from that record: what the query answered at the run's last wait. With no worker,
 * the record says more than the memo alone. A record too long to keep is not used. And the record
 * itself: what it keeps, and that a memo that is not a whole record is never read as one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Caller } from '../src/server/principal.js';
import type { RunStatus } from '../src/shared/contract.js';
import {
  recordedStatusIn,
  STATUS_RECORD_MAX_CHARS,
  STATUS_RECORD_MEMO_KEY,
  statusRecordOf,
  type StatusRecord,
} from '../src/shared/statusRecord.js';
import { startWorker } from '../src/worker/worker.js';
import { startInProcessStack, type InProcessStack } from './support/inProcess.js';
import { waitFor } from './support/wait.js';

const alice: Caller = { principal: 'alice', client: 'test' };
const WORKER_QUEUE = 'status-record';

describe('status reads from the run record', { timeout: 5 * 60_000 }, () => {
  let stack: InProcessStack;
  /** A server that has seen nothing of the run (a server process, as far as Temporal can tell). */
  const freshServer = (queue = WORKER_QUEUE) => stack.service(queue);
  const recordOf = async (runId: string): Promise<StatusRecord | undefined> =>
    (await stack.temporal.client.workflow.getHandle(runId).describe()).memo?.[STATUS_RECORD_MEMO_KEY] as StatusRecord | undefined;

  before(async () => {
    stack = await startInProcessStack(WORKER_QUEUE);
  });
  after(async () => {
    await stack?.close();
  });

  it('answers a read held behind a workflow task with what the query answered at the last wait', async () => {
    const { model, sink } = stack;
    // The model takes 1.5 s (the run waits outside its workflow task: a query answers at once), then
    // asks for a 3 s read, which runs inside the next workflow task (a local activity): Temporal holds
    // a query until that task completes.
    model.script('held', [
      { delayMs: 1_500, then: { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/held?delayMs=3000` } }] } },
      { content: 'done' },
    ]);
    const { runId } = await freshServer().start({ task: 'held behind a read [script:held]', approval: 'none' }, alice);
    await waitFor('the model call', () => model.requests('held').length === 1);
    const whileModelThinks = await freshServer().status(runId, alice);
    await waitFor('the read to reach the sink', () => sink.requests().some((r) => r.path.startsWith('/held')));
    const whileTaskHeld = await freshServer().status(runId, alice);

    assert.equal(whileTaskHeld.status, 'running');
    assert.equal(whileTaskHeld.step, 1);
    assert.deepEqual(whileTaskHeld.usage, { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 }, 'as of the model call, not after it');
    assert.equal(whileTaskHeld.lastToolCall, undefined);
    assert.equal(whileTaskHeld.error, undefined, 'a worker polls: nothing to warn of');
    assert.deepEqual(whileTaskHeld, whileModelThinks, 'the same answer the query gave while the run waited for the model');
    const record = await recordOf(runId);
    assert.ok(record && 'status' in record && record.status.step === 1, JSON.stringify(record));

    // The worker's answer once the task is done, and the run goes on to its end.
    const done = await freshServer().result(runId, 20, alice);
    assert.equal(done.status, 'completed');
    assert.equal(done.step, 2);
    assert.equal(done.usage.llmCalls, 2);
  });

  it('answers a run whose worker has gone with all it recorded, and says why it is not more', async () => {
    const queue = 'status-record-gone';
    const url = `${stack.sink.url}/gone-write`;
    stack.model.script('gone', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'POST', url, body: 'payload' } }] }]);
    const worker = await startWorker(stack.configFor(queue), stack.temporal);
    let runId = '';
    let parked: RunStatus | undefined;
    try {
      runId = (await freshServer(queue).start({ task: 'waits for a human [script:gone]', approval: 'writes' }, alice)).runId;
      await waitFor('the run to wait for approval', async () => {
        parked = await freshServer(queue).status(runId, alice);
        return parked.status === 'waiting_for_approval';
      });
    } finally {
      await worker.shutdown();
    }
    const asRecorded = (status: RunStatus) => {
      assert.equal(status.status, 'waiting_for_approval');
      assert.equal(status.step, 1);
      assert.equal(status.usage.llmCalls, 1);
      assert.equal(status.usage.inputTokens, parked?.usage.inputTokens);
      assert.deepEqual(status.pendingApprovals, parked?.pendingApprovals);
      assert.deepEqual(status.pendingApprovals[0]?.arguments, { method: 'POST', url, body: 'payload' });
    };
    // No workflow task is pending: the query goes straight to a worker, none answers, and after the
    // deadline the answer is the record (where the memo alone knew the step) with the reason.
    const idle = await freshServer(queue).status(runId, alice);
    asRecorded(idle);
    assert.match(idle.error ?? '', /no worker is polling|worker did not answer a status query within 3 s/);

    // The decision makes a workflow task no worker takes up: Temporal holds the query behind it, the
    // record answers, and once the task has waited a while, the answer says so.
    const decided = await freshServer(queue).approve(runId, parked!.pendingApprovals[0]!.approvalId, 'approve', undefined, alice);
    assert.equal(decided.decision, 'approve');
    await new Promise((r) => setTimeout(r, 5_500));
    const stalled = await freshServer(queue).status(runId, alice);
    asRecorded(stalled);
    assert.match(stalled.error ?? '', /no worker is polling|next workflow task has waited \d+ s for a worker on task queue "status-record-gone"/);
    await stack.temporal.client.workflow.getHandle(runId).terminate('done with it');
  });

  it('keeps a record too long for the memo as its time alone, and the read waits for the worker or the close', async () => {
    const { model, sink } = stack;
    // Two steps: the first call's arguments make every later record too long; the second step's read
    // holds the workflow task that then fails the run, out of steps.
    const padded = `${sink.url}/long-record?pad=${'x'.repeat(STATUS_RECORD_MAX_CHARS)}`;
    model.script('long-record', [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: padded } }] },
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/long-record-read?delayMs=1500` } }] },
    ]);
    const { runId } = await freshServer().start({ task: 'records too much [script:long-record]', approval: 'none', maxSteps: 2 }, alice);
    await waitFor('the second read to reach the sink', () => sink.requests().some((r) => r.path.startsWith('/long-record-read')));
    const record = await recordOf(runId);
    assert.ok(record && 'tooLong' in record, JSON.stringify(record));
    // Temporal holds this query until the workflow task completes; that task closes the run, and the
    // close answers (not a worker replaying the run as of before it).
    const status = await freshServer().status(runId, alice);
    assert.equal(status.status, 'failed');
    assert.equal(status.error, 'The run used all 2 steps (maxSteps) without a final answer from the model.');
    assert.equal(status.step, 2);
    assert.equal(status.lastToolCall?.tool, 'http_request');
    assert.ok(status.closedAt, 'closedAt is set');
  });
});

describe('the status record', () => {
  const snapshot: RunStatus = {
    runId: 'run-1',
    status: 'waiting_for_approval',
    task: 'a task',
    step: 3,
    maxSteps: 25,
    pendingApprovals: [
      { approvalId: 'apr-3-0', tool: 'http_request', arguments: { method: 'POST' }, summary: 'POST', requestedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-02T00:00:00.000Z' },
    ],
    lastToolCall: { tool: 'http_request', arguments: { method: 'GET' }, ok: true, at: '2026-01-01T00:00:00.000Z' },
    usage: { llmCalls: 3, toolCalls: 2, inputTokens: 100, outputTokens: 20 },
    warnings: ['a warning'],
    startedAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:01.000Z',
    owner: 'alice',
  };

  it('keeps what changes while the run runs, and reads back as it was kept', () => {
    const record = statusRecordOf(snapshot);
    assert.deepEqual(record, {
      status: {
        step: 3,
        pendingApprovals: snapshot.pendingApprovals,
        lastToolCall: snapshot.lastToolCall,
        usage: snapshot.usage,
        warnings: ['a warning'],
        updatedAt: snapshot.updatedAt,
      },
    });
    assert.deepEqual(recordedStatusIn({ [STATUS_RECORD_MEMO_KEY]: JSON.parse(JSON.stringify(record)) }), 'status' in record ? record.status : undefined);
  });

  it('keeps only its time when the status is too long, and such a record is not read as a status', () => {
    const long = { ...snapshot, lastToolCall: { ...snapshot.lastToolCall!, arguments: { body: 'x'.repeat(STATUS_RECORD_MAX_CHARS) } } };
    const record = statusRecordOf(long);
    assert.deepEqual(record, { tooLong: true, updatedAt: snapshot.updatedAt });
    assert.equal(recordedStatusIn({ [STATUS_RECORD_MEMO_KEY]: record }), undefined);
  });

  it('reads no status from a memo without a whole record', () => {
    for (const memo of [undefined, {}, { [STATUS_RECORD_MEMO_KEY]: null }, { [STATUS_RECORD_MEMO_KEY]: 'text' }, { [STATUS_RECORD_MEMO_KEY]: { status: null } }, { [STATUS_RECORD_MEMO_KEY]: { status: { step: '3', pendingApprovals: [], usage: {}, updatedAt: 'x' } } }, { [STATUS_RECORD_MEMO_KEY]: { status: { step: 3, usage: {}, updatedAt: 'x' } } }]) {
      assert.equal(recordedStatusIn(memo), undefined, JSON.stringify(memo));
    }
  });
});
