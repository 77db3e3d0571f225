/**
 * Replays recorded histories (test/histories/<label>/*.json, written by `npm run record-histories`)
 * against the current workflow bundle. A workflow change that would break runs in flight fails
 * here with a determinism error; guard such changes with `patched()` (README, "Changing the workflow").
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { PREBUILT_BUNDLE } from '../src/worker/worker.js';
import { PATCHES } from '../src/workflows/agentWorkflow.js';
import { repoRoot } from './support/mcpStdio.js';

// Replay workers log every state change at INFO; keep the test output to what matters.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const historiesDir = path.join(repoRoot, 'test', 'histories');
const replayOptions: ReplayWorkerOptions = { workflowBundle: { codePath: PREBUILT_BUNDLE } };

interface HistoryJson {
  events: Array<Record<string, unknown> & { eventType: string }>;
}

function load(file: string): HistoryJson {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as HistoryJson;
}

/**
 * The run's workflow id, where the history reveals it: a sub-agent's id is derived from its parent's
 * (`<runId>.sub-<call>`), so a history that started one replays only under its own id.
 */
function workflowIdOf(history: HistoryJson, fallback: string): string {
  for (const e of history.events) {
    const child = e.startChildWorkflowExecutionInitiatedEventAttributes as { workflowId?: string } | undefined;
    const id = child?.workflowId ? /^(.*)\.sub-[^.]+$/.exec(child.workflowId)?.[1] : undefined;
    if (id) return id;
  }
  return fallback;
}

const labels = fs.readdirSync(historiesDir).filter((d) => fs.statSync(path.join(historiesDir, d)).isDirectory()).sort();

describe('replay of recorded histories against the current workflow code', () => {
  it('there are recorded histories of every main scenario', () => {
    const names = new Set(labels.flatMap((l) => fs.readdirSync(path.join(historiesDir, l)).map((f) => f.replace(/(-\d+)?\.json$/, ''))));
    for (const scenario of ['happy-path', 'approved-write', 'rejected-write', 'cancelled', 'retries', 'continue-as-new', 'toolbox', 'dressed-write', 'delegate', 'parallel-turn']) {
      assert.ok(names.has(scenario), `a recorded history of ${scenario}`);
    }
  });

  for (const label of labels) {
    const dir = path.join(historiesDir, label);
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      it(`${label}/${file} replays`, async () => {
        const history = load(path.join(dir, file));
        await Worker.runReplayHistory(replayOptions, history, workflowIdOf(history, `${label}/${file}`));
      });
    }
  }

  it('a history recorded before a patch has no marker for it, one recorded after has: both replay', () => {
    const patchIds = (label: string, file = 'happy-path.json'): string[] =>
      load(path.join(historiesDir, label, file))
        .events.filter((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED')
        .map((e) => e.markerRecordedEventAttributes as { markerName: string; details: Record<string, { payloads: Array<{ data: string }> }> })
        .filter((m) => m.markerName === 'core_patch')
        .map((m) => (JSON.parse(Buffer.from(m.details['patch-data']!.payloads[0]!.data, 'base64').toString('utf8')) as { id: string }).id);
    assert.deepEqual(patchIds('v1'), [], 'v1 histories were recorded before the step-in-memo patch');
    assert.deepEqual(patchIds('v2'), [PATCHES.stepInMemo], 'v2 histories carry its marker');
    // dressed-writes and delegate-budget are decided only when such a call occurs, so other runs record no marker.
    const label = 'v4';
    for (const file of fs.readdirSync(path.join(historiesDir, label))) {
      assert.equal(patchIds(label, file).includes(PATCHES.dressedWrites), file === 'dressed-write.json', `${label}/${file}`);
      assert.equal(patchIds(label, file).includes(PATCHES.delegateBudget), file === 'delegate.json', `${label}/${file}`);
    }
    assert.ok(!patchIds('v3', 'dressed-write.json').includes(PATCHES.dressedWrites), 'v3/dressed-write ran before the patch');
    assert.ok(!patchIds('v3', 'delegate.json').includes(PATCHES.delegateBudget), 'v3/delegate ran before the patch');
    // parallel-tools is decided only for a turn of several calls.
    assert.ok(patchIds('v5', 'parallel-turn.json').includes(PATCHES.parallelTools), 'v5/parallel-turn ran its turn in parallel');
    assert.ok(!patchIds('v5', 'happy-path.json').includes(PATCHES.parallelTools), 'one-call turns record no marker');
    assert.ok(!patchIds('v4', 'toolbox-1.json').includes(PATCHES.parallelTools), 'v4/toolbox ran its two-call turn in a row');
  });

  it('reads ran as regular activities before v6 and as local activities since: both replay', () => {
    const localReads = (label: string, file: string): string[] =>
      load(path.join(historiesDir, label, file))
        .events.filter((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED')
        .map((e) => e.markerRecordedEventAttributes as { markerName: string; details: Record<string, { payloads: Array<{ data: string }> }> })
        .filter((m) => m.markerName === 'core_local_activity')
        .map((m) => (JSON.parse(Buffer.from(m.details.data!.payloads[0]!.data, 'base64').toString('utf8')) as { activity_type: string }).activity_type);
    assert.deepEqual(localReads('v5', 'happy-path.json'), []);
    assert.deepEqual(localReads('v6', 'happy-path.json'), ['readHttp'], 'the GET ran inside the workflow task');
    assert.deepEqual(localReads('v6', 'approved-write.json'), [], 'writes stay regular activities');
    assert.deepEqual(localReads('v6', 'toolbox-1.json'), ['readWorkspace'], 'workspace_read ran locally; the write and the MCP call did not');
  });

  it('runs at patch level 1 (v7) record no patch markers and list their toolbox with a local activity', () => {
    for (const file of fs.readdirSync(path.join(historiesDir, 'v7'))) {
      const markers = load(path.join(historiesDir, 'v7', file))
        .events.filter((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED')
        .map((e) => e.markerRecordedEventAttributes as { markerName: string });
      assert.ok(!markers.some((m) => m.markerName === 'core_patch'), `v7/${file} has no patch marker`);
    }
    const scheduled = (label: string, file: string): string[] =>
      load(path.join(historiesDir, label, file))
        .events.filter((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')
        .map((e) => (e.activityTaskScheduledEventAttributes as { activityType: { name: string } }).activityType.name);
    assert.deepEqual(scheduled('v6', 'happy-path.json'), ['describeToolbox', 'callModel', 'callModel']);
    assert.deepEqual(scheduled('v7', 'happy-path.json'), ['callModel', 'callModel'], 'the toolbox was listed inside the first workflow task');
  });

  it('runs at patch level 2 (v8) record their status in the memo, at no extra event for a run of one read', () => {
    const memoUpserts = (label: string, file: string) =>
      load(path.join(historiesDir, label, file))
        .events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED')
        .map((e) => Object.keys((e.workflowPropertiesModifiedEventAttributes as { upsertedMemo: { fields: object } }).upsertedMemo.fields).sort());
    // The record rides on the step's upsert: the model call is waited for, the read runs inside the task.
    assert.deepEqual(memoUpserts('v7', 'happy-path.json'), [['agentStep'], ['agentStep']]);
    assert.deepEqual(memoUpserts('v8', 'happy-path.json'), [['agentRecord', 'agentStep'], ['agentRecord', 'agentStep']]);
    assert.equal(load(path.join(historiesDir, 'v8', 'happy-path.json')).events.length, load(path.join(historiesDir, 'v7', 'happy-path.json')).events.length);
    // An approved write: one record more, as the write starts (its approval's upsert carried the one before).
    assert.equal(memoUpserts('v8', 'approved-write.json').length, memoUpserts('v7', 'approved-write.json').length + 1);
    for (const file of fs.readdirSync(path.join(historiesDir, 'v8'))) {
      assert.ok(memoUpserts('v8', file).every((keys) => keys.includes('agentRecord')), `every memo upsert of v8/${file} carries the record`);
    }
  });

  it('a history that does not match the code fails replay (the test can fail)', async () => {
    // Swap the first model call for a tool call: the code would schedule something else.
    const history = load(path.join(historiesDir, 'v1', 'happy-path.json'));
    const scheduled = history.events.find((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED');
    assert.ok(scheduled);
    const attrs = scheduled.activityTaskScheduledEventAttributes as { activityType: { name: string } };
    assert.equal(attrs.activityType.name, 'callModel');
    attrs.activityType.name = 'httpRequest';
    await assert.rejects(Worker.runReplayHistory(replayOptions, history, 'tampered'), DeterminismViolationError);
  });

  // One guard removed at a time: a history carrying another patch's marker fails without its call too.
  const unguarded = [
    { guard: "if (applies('stepInMemo'))", without: 'if (true)', history: ['v1', 'happy-path.json'] },
    // A GET with a method-override header that ran without approval before the dressed-writes patch.
    { guard: "applies('dressedWrites')", without: 'true', history: ['v3', 'dressed-write.json'] },
    // A sub-agent that took two turns while its parent had one left; the parent then took another turn.
    { guard: "applies('delegateBudget')", without: 'true', history: ['v3', 'delegate.json'] },
    // A turn of a read and an approved MCP call that ran one after the other.
    { guard: "applies('parallelTools')", without: 'true', history: ['v4', 'toolbox-1.json'] },
    // A GET run as a regular activity, by a run whose input did not ask for local reads.
    { guard: 'input.localReads === true', without: 'true', history: ['v5', 'happy-path.json'] },
    // Runs started below patch level 1: patch markers, and the toolbox listed by a regular activity.
    { guard: 'const patchLevel = input.patchLevel ?? 0;', without: 'const patchLevel = 1;', history: ['v6', 'happy-path.json'] },
    // Runs started at patch level 1: no markers to find, the toolbox listed in the first workflow task.
    { guard: 'patchLevel >= PATCH_LEVELS[PATCHES[patch]] || ', without: '', history: ['v7', 'happy-path.json'] },
    { guard: 'patchLevel >= 1 ? await describeToolboxLocally() : await describeToolbox()', without: 'await describeToolbox()', history: ['v7', 'happy-path.json'] },
    // Runs below patch level 2 record no status (a memo upsert before the approved write, here)...
    { guard: 'const recordsStatus = patchLevel >= 2;', without: 'const recordsStatus = true;', history: ['v7', 'approved-write.json'] },
    // ...and runs at level 2 recorded one.
    { guard: 'const recordsStatus = patchLevel >= 2;', without: 'const recordsStatus = false;', history: ['v8', 'approved-write.json'] },
  ] as const;
  for (const { guard, without, history: recorded } of unguarded) {
    it(`the change behind ${guard} without its guard would break runs recorded before it (${recorded.join('/')})`, async () => {
      // Build a variant of the compiled workflow code with the guard removed and replay an older history.
      const variant = fs.mkdtempSync(path.join(repoRoot, 'dist', 'unpatched-'));
      try {
        fs.cpSync(path.join(repoRoot, 'dist', 'src'), path.join(variant, 'src'), { recursive: true });
        const file = path.join(variant, 'src', 'workflows', 'agentWorkflow.js');
        const code = fs.readFileSync(file, 'utf8');
        assert.ok(code.includes(guard), 'the compiled workflow has the guard');
        fs.writeFileSync(file, code.replace(guard, without));
        const { code: bundle } = await bundleWorkflowCode({
          workflowsPath: path.join(variant, 'src', 'workflows', 'index.js'),
          logger: new DefaultLogger('ERROR'),
        });
        const history = load(path.join(historiesDir, ...recorded));
        await assert.rejects(
          Worker.runReplayHistory({ workflowBundle: { code: bundle } }, history, workflowIdOf(history, 'unpatched')),
          (err: unknown) => err instanceof DeterminismViolationError && !/Child workflow id/.test(err.message),
        );
      } finally {
        fs.rmSync(variant, { recursive: true, force: true });
      }
    });
  }
});
