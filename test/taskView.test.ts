/** Tasks and approval forms as pure functions: the status mapping, ttl, messages, and reading answers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunStatus, RunStatusName } from '../src/shared/contract.js';
import { approvalMessage, approvalRequests, readAnswer } from '../src/server/approvals/forms.js';
import { finalToolResult, legacyTaskOf, modernDetailedTaskOf, taskStatusOf, ttlOf } from '../src/server/tasks/taskView.js';

const approval = {
  approvalId: 'ap-1',
  tool: 'http_request',
  arguments: { method: 'POST', url: 'https://example.com/x', body: 'y'.repeat(5_000) },
  summary: 'POST https://example.com/x',
  requestedAt: '2026-11-30T10:00:00.000Z',
  expiresAt: '2026-12-01T10:00:00.000Z',
};

function run(status: RunStatusName, extra: Partial<RunStatus> = {}): RunStatus {
  return {
    runId: 'run-1',
    status,
    task: 't',
    step: 2,
    maxSteps: 25,
    pendingApprovals: status === 'waiting_for_approval' ? [approval] : [],
    usage: { llmCalls: 1, toolCalls: 0, inputTokens: 1, outputTokens: 1 },
    startedAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:00:05.000Z',
    ...extra,
  };
}

describe('tasks as pure functions', () => {
  it('maps every run status to the task status the contract names', () => {
    const expected: Record<RunStatusName, [string, string]> = {
      running: ['working', 'working'],
      waiting_for_approval: ['input_required', 'working'],
      completed: ['completed', 'completed'],
      failed: ['failed', 'failed'],
      timed_out: ['failed', 'failed'],
      cancelled: ['cancelled', 'cancelled'],
    };
    for (const [status, [withForms, withoutForms]] of Object.entries(expected)) {
      assert.equal(taskStatusOf(status as RunStatusName, true), withForms, status);
      assert.equal(taskStatusOf(status as RunStatusName, false), withoutForms, status);
    }
  });

  it('a waiting run whose approvals are unknown (no worker) is working: there is no form to offer', () => {
    const task = modernDetailedTaskOf(run('waiting_for_approval', { pendingApprovals: [], error: 'no worker is polling' }), true, 1000, Date.now());
    assert.equal(task.status, 'working');
    assert.equal('inputRequests' in task, false);
    assert.match(task.statusMessage, /no worker is polling/);
  });

  it('ttl counts from creation: up to the close (or now) plus the retention', () => {
    const closed = run('completed', { closedAt: '2026-11-30T10:01:00.000Z' });
    assert.equal(ttlOf(closed, 86_400_000, Date.parse('2026-11-30T12:00:00.000Z')), 60_000 + 86_400_000);
    assert.equal(ttlOf(run('running'), 1_000, Date.parse('2026-11-30T10:00:10.000Z')), 10_000 + 1_000);
    assert.equal(legacyTaskOf(closed, true, 5, 0).ttl, 60_005);
  });

  it('carries forms, a result or an error as the status calls for; failures keep their text', () => {
    const waiting = modernDetailedTaskOf(run('waiting_for_approval'), true, 0, 0);
    assert.deepEqual(Object.keys((waiting as { inputRequests: object }).inputRequests), ['ap-1']);
    const done = modernDetailedTaskOf(run('completed', { result: 'the answer' }), true, 0, 0) as { result: { structuredContent: RunStatus } };
    assert.equal(done.result.structuredContent.result, 'the answer');
    const failed = modernDetailedTaskOf(run('failed', { error: 'model said 401' }), true, 0, 0) as { error: { code: number; message: string }; statusMessage: string };
    assert.equal(failed.error.code, -32603);
    assert.match(failed.error.message, /model said 401/);
    assert.match(failed.statusMessage, /^Run failed: model said 401/);
    const result = finalToolResult(run('timed_out', { error: 'out of time' }));
    assert.equal(result.isError, true);
    assert.match((result.content[0] as { text: string }).text, /^Run timed out: out of time/);
    assert.equal(finalToolResult(run('completed')).isError, undefined);
  });

  it('the form names run, tool and expiry, cuts long arguments, and asks for decision and comment', () => {
    const message = approvalMessage('run-1', approval);
    assert.match(message, /run run-1 asks to call http_request: POST https:\/\/example.com\/x/);
    assert.match(message, /open until 2026-12-01T10:00:00.000Z/);
    assert.ok(message.length < 2_000, `message is ${message.length} characters`);
    const forms = approvalRequests(run('waiting_for_approval'), new Set(['ap-1']));
    assert.deepEqual(forms, {}, 'forms already asked are skipped');
    const [form] = Object.values(approvalRequests(run('waiting_for_approval')));
    assert.equal(form?.method, 'elicitation/create');
  });

  it('reads answers: bare or wrapped, accept with a decision, decline, and anything else refused', () => {
    assert.deepEqual(readAnswer({ action: 'accept', content: { decision: 'approve', comment: '  ok ' } }), { kind: 'decision', decision: 'approve', comment: 'ok' });
    assert.deepEqual(readAnswer({ result: { action: 'accept', content: { decision: 'reject' } } }), { kind: 'decision', decision: 'reject' });
    assert.deepEqual(readAnswer({ action: 'decline' }), { kind: 'declined', action: 'decline' });
    assert.equal(readAnswer({ action: 'accept', content: { decision: 'maybe' } }).kind, 'invalid');
    assert.equal(readAnswer({ action: 'accept', content: { decision: 'approve', comment: 'x'.repeat(2_001) } }).kind, 'invalid');
    assert.equal(readAnswer('approve').kind, 'invalid');
    assert.equal(readAnswer(null).kind, 'invalid');
  });
});
