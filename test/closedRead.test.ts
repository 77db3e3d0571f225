/**
 * The first read of a closed run, of every kind (completed, failed, cancelled, timed out, terminated,
 * and terminated with no worker to replay it): each read by a server that has not seen the run close,
 * so nothing is cached. The answer is the same through get_run_status and get_run_result, the same on
 * a repeat, closedAt is Temporal's close time, and another principal's run, an unknown runId and a
 * workflow of another type all answer "no such run". Also the read of a run no worker has taken up
 * yet: answered from its start event, whole, without waiting for a worker. (A read that the run's
 * close overtakes is in statusRecord.test.ts, with the other reads Temporal holds behind a task.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Caller } from '../src/server/principal.js';
import type { StartParams } from '../src/server/runService.js';
import { UserError } from '../src/server/toolResult.js';
import type { RunStatus, RunStatusName } from '../src/shared/contract.js';
import { startWorker } from '../src/worker/worker.js';
import { startInProcessStack, type InProcessStack } from './support/inProcess.js';
import type { ModelServer } from './support/modelServer.js';
import { waitFor } from './support/wait.js';

const alice: Caller = { principal: 'alice', client: 'test' };
const bob: Caller = { principal: 'bob', client: 'test' };
const WORKER_QUEUE = 'closed-read';
const IDLE_QUEUE = 'closed-read-idle';

interface Case {
  kind: string;
  status: RunStatusName;
  error?: string;
  result?: string;
  /** Model turns the run took before it closed. */
  step: number;
  runId?: string;
}

describe('the first read of a closed run', { timeout: 5 * 60_000 }, () => {
  let stack: InProcessStack;
  /** A server that has seen nothing: no cached status. */
  const freshServer = (queue = WORKER_QUEUE) => stack.service(queue);

  const noSuchRun = (runId: string) => (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.message, `No run with runId "${runId}". Use list_runs to find runs, or start_agent_run to start one.`);
    return true;
  };

  before(async () => {
    stack = await startInProcessStack(WORKER_QUEUE);
  });
  after(async () => {
    await stack?.close();
  });

  it('answers the same for every kind of close, whichever way it is read, and only to its owner', async () => {
    const { model, sink, temporal } = stack;
    const get = (id: string) => ({ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/${id}` } }] });
    const starter = freshServer();
    const begin = async (c: Case, params: Omit<StartParams, 'task'>, steps: Parameters<ModelServer['script']>[1], on = starter) => {
      model.script(c.kind, steps);
      c.runId = (await on.start({ task: `closes ${c.kind} [script:${c.kind}]`, ...params }, alice)).runId;
    };
    const parked = async (c: Case) => waitFor(`${c.kind} to wait for approval`, async () => (await starter.status(c.runId!, alice)).status === 'waiting_for_approval');

    const completed: Case = { kind: 'completed', status: 'completed', result: 'the answer', step: 1 };
    const failed: Case = { kind: 'failed', status: 'failed', error: 'The run used all 1 steps (maxSteps) without a final answer from the model.', step: 1 };
    const cancelled: Case = { kind: 'cancelled', status: 'cancelled', step: 1 };
    const timedOut: Case = { kind: 'timed-out', status: 'timed_out', error: 'The run ran out of its time budget (timeoutSeconds) and was stopped.', step: 1 };
    const terminated: Case = { kind: 'terminated', status: 'failed', error: 'The run was terminated: stopped by the test', step: 1 };
    // No worker polls its queue: no replay can answer, so the status is what Temporal itself knows.
    const unworked: Case = { kind: 'terminated-unworked', status: 'failed', error: 'The run was terminated: stopped by the test', step: 0 };

    await begin(completed, { approval: 'none' }, [{ content: 'the answer' }]);
    await begin(failed, { approval: 'none', maxSteps: 1 }, [get('failed')]);
    await begin(cancelled, { approval: 'all' }, [get('cancelled')]);
    await begin(timedOut, { approval: 'all', timeoutSeconds: 3 }, [get('timed-out')]);
    await begin(terminated, { approval: 'all' }, [get('terminated')]);
    await begin(unworked, {}, [], freshServer(IDLE_QUEUE));
    await Promise.all([parked(cancelled), parked(terminated)]);
    await temporal.client.workflow.getHandle(cancelled.runId!).cancel();
    await temporal.client.workflow.getHandle(terminated.runId!).terminate('stopped by the test');
    await temporal.client.workflow.getHandle(unworked.runId!).terminate('stopped by the test');
    const cases = [completed, failed, cancelled, timedOut, terminated, unworked];
    for (const c of cases) await temporal.client.workflow.getHandle(c.runId!).result().catch(() => undefined);

    for (const c of cases) {
      const runId = c.runId!;
      const server = freshServer();
      const first = await server.status(runId, alice);
      const what = `${c.kind}: ${JSON.stringify(first)}`;
      const closeTime = (await temporal.client.workflow.getHandle(runId).describe()).closeTime?.toISOString();
      assert.equal(first.status, c.status, what);
      assert.equal(first.closedAt, closeTime, what);
      assert.equal(first.updatedAt, closeTime, what);
      assert.equal(first.error, c.error, what);
      assert.equal(first.result, c.result, what);
      assert.equal(first.task, `closes ${c.kind} [script:${c.kind}]`, what);
      assert.equal(first.step, c.step, what);
      assert.deepEqual(first.pendingApprovals, [], what);
      assert.equal((first as RunStatus).owner, undefined, 'the owner is never shown');
      assert.deepEqual(await server.status(runId, alice), first, `${c.kind}: a repeat`);
      assert.deepEqual(await freshServer().result(runId, 5, alice), first, `${c.kind}: get_run_result`);
      await assert.rejects(freshServer().status(runId, bob), noSuchRun(runId), `${c.kind}: bob`);
    }
  });

  it('answers "no such run" for an unknown runId and for a closed workflow of another type', async () => {
    await assert.rejects(freshServer().status('run-never-started', alice), noSuchRun('run-never-started'));
    const other = await stack.temporal.client.workflow.start('someOtherWorkflow', { taskQueue: IDLE_QUEUE, workflowId: `other-${process.pid}`, args: [] });
    await other.terminate('not an agent run');
    await assert.rejects(freshServer().status(other.workflowId, alice), noSuchRun(other.workflowId));
  });

  it('answers a run no worker has taken up yet from its start event, whole, and then from its worker', async () => {
    const queue = 'closed-read-later';
    const server = freshServer(queue);
    // Longer than the memo keeps (500 characters): the whole task shows the start event answered.
    const task = `waits for a worker [script:unstarted] ${'x'.repeat(600)}`;
    stack.model.script('unstarted', [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/unstarted` } }] }]);
    const { runId } = await server.start({ task, maxSteps: 7, approval: 'all' }, alice);

    const first = await freshServer(queue).status(runId, alice);
    assert.equal(first.status, 'running');
    assert.equal(first.task, task);
    assert.equal(first.step, 0);
    assert.equal(first.maxSteps, 7);
    assert.deepEqual(first.pendingApprovals, []);
    assert.deepEqual(first.usage, { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 });
    assert.equal(first.updatedAt, first.startedAt);
    assert.match(first.error ?? '', /no worker is polling task queue "closed-read-later"/);
    assert.equal((first as RunStatus).owner, undefined, 'the owner is never shown');
    await assert.rejects(freshServer(queue).status(runId, bob), noSuchRun(runId));
    // An open workflow of another type, never taken up, is no agent run either.
    const other = await stack.temporal.client.workflow.start('someOtherWorkflow', { taskQueue: queue, workflowId: `other-open-${process.pid}`, args: [] });
    try {
      await assert.rejects(freshServer(queue).status(other.workflowId, alice), noSuchRun(other.workflowId));
    } finally {
      await other.terminate('not an agent run');
    }

    // Once a worker takes the run up, the worker answers: the run moves on to its approval.
    const worker = await startWorker(stack.configFor(queue), stack.temporal);
    try {
      let parked = first;
      await waitFor('the run to wait for approval', async () => {
        parked = await freshServer(queue).status(runId, alice);
        return parked.status === 'waiting_for_approval';
      });
      assert.equal(parked.step, 1);
      assert.equal(parked.task, task);
      assert.equal(parked.error, undefined);
      assert.equal(parked.pendingApprovals.length, 1);
      await stack.temporal.client.workflow.getHandle(runId).terminate('done with it');
    } finally {
      await worker.shutdown();
    }
  });
});
