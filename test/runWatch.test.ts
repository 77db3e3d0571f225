/**
 * The run watchers on their own: many listeners of one run share one watcher (one status read per
 * round), nothing is read while nobody listens, and a watcher ends with its run. The run service here
 * is a stand-in that counts reads: what is under test is the sharing, not Temporal (the e2e tests of
 * resources and tasks run the real thing).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunStatus } from '../src/shared/contract.js';
import { RunWatchers } from '../src/server/runWatch.js';
import type { Runs } from '../src/server/runs.js';
import { sleep } from './support/wait.js';

function fakeRuns() {
  const reads = new Map<string, number>();
  const state = new Map<string, RunStatus>();
  const runs = {
    status: async (runId: string) => {
      reads.set(runId, (reads.get(runId) ?? 0) + 1);
      return state.get(runId)!;
    },
    isStopping: () => false,
  } as unknown as Runs;
  const set = (runId: string, patch: Partial<RunStatus>) =>
    state.set(runId, {
      runId,
      status: 'running',
      task: 't',
      step: 0,
      maxSteps: 5,
      pendingApprovals: [],
      usage: { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0 },
      startedAt: '2026-11-30T10:00:00Z',
      updatedAt: '2026-11-30T10:00:00Z',
      ...state.get(runId),
      ...patch,
    });
  return { runs, reads, set };
}

const caller = { principal: 'p', client: 'c' };

describe('run watchers', () => {
  it('three listeners of one run: one watcher, one read a round, each hears each change once', async () => {
    const { runs, reads, set } = fakeRuns();
    set('r1', {});
    const watchers = new RunWatchers(runs, 20);
    const heard: number[][] = [[], [], []];
    const stops = heard.map((list) => watchers.watch('r1', caller, (run) => list.push(run.step), false));
    assert.equal(watchers.size, 1);
    await sleep(100);
    const roundsSoFar = reads.get('r1')!;
    assert.ok(roundsSoFar >= 2 && roundsSoFar <= 8, `one read a round, not one per listener: ${roundsSoFar}`);
    set('r1', { step: 1 });
    await sleep(80);
    set('r1', { step: 2 });
    await sleep(80);
    for (const list of heard) assert.deepEqual(list, [1, 2]);
    for (const stop of stops) stop();
    assert.equal(watchers.size, 0);
    const after = reads.get('r1')!;
    await sleep(100);
    assert.ok(reads.get('r1')! <= after + 1, 'nothing is read once nobody listens');
  });

  it('a listener asking for the first look gets it; the watcher ends when the run closes', async () => {
    const { runs, reads, set } = fakeRuns();
    set('r2', {});
    const watchers = new RunWatchers(runs, 20);
    const heard: string[] = [];
    watchers.watch('r2', caller, (run) => heard.push(run.status));
    await sleep(60);
    set('r2', { status: 'completed', closedAt: '2026-11-30T10:01:00Z' });
    await sleep(80);
    assert.deepEqual(heard, ['running', 'completed']);
    assert.equal(watchers.size, 0, 'a closed run is no longer watched');
    const after = reads.get('r2')!;
    await sleep(80);
    assert.equal(reads.get('r2'), after);
  });
});
