/**
 * list_runs in Temporal's visibility store (the DurableAgent* search attributes) and, on a namespace
 * without them, by the in-memory scan: the decision taken at start-up, owner isolation, the status
 * filter (waiting_for_approval too) and paging that gives every run exactly once, newest first; then
 * the upgrade, where runs from before the attributes are listed with the new ones. Real dev servers,
 * an in-process worker and the scripted model; runs on a task queue no worker polls stay open or time
 * out by themselves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Caller } from '../src/server/principal.js';
import type { RunService, StartParams } from '../src/server/runService.js';
import { RUN_STATUSES, type RunStatusName, type RunSummary } from '../src/shared/contract.js';
import { newRunSearchAttributes, ownerKeyword, RUN_OWNER, RUN_STARTED_AT, RUN_STATUS } from '../src/shared/searchAttributes.js';
import { registerCommands } from '../src/temporal/searchAttributes.js';
import { startInProcessStack, type InProcessStack } from './support/inProcess.js';
import { callTool, spawnServer } from './support/mcpStdio.js';
import { temporalCliPath } from './support/temporal.js';
import { waitFor } from './support/wait.js';

/** A principal Temporal's query strings could not match as it is: quote, backslash, double quote, space, percent. */
const alice: Caller = { principal: `alice o'brien \\ "ops" 100%`, client: 'test' };
const bob: Caller = { principal: 'bob', client: 'test' };
const carol: Caller = { principal: 'carol', client: 'test' };

const WORKER_QUEUE = 'listing';
/** No worker polls it: runs there stay open, or time out after their timeoutSeconds. */
const IDLE_QUEUE = 'listing-idle';

const ids = (runs: RunSummary[]) => runs.map((r) => r.runId);

function assertNewestFirst(runs: RunSummary[]): void {
  for (let i = 1; i < runs.length; i++) {
    const [a, b] = [runs[i - 1]!, runs[i]!];
    assert.ok(a.startedAt > b.startedAt || (a.startedAt === b.startedAt && a.runId > b.runId), `newest first at ${i}: ${JSON.stringify([a, b])}`);
  }
}

/** Every page of a listing, checked page by page; the run ids in the order they came. */
async function pageThrough(service: RunService, caller: Caller, limit: number, status?: RunStatusName): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    assert.ok(pages <= 200, 'paging ends');
    const page = await service.list({ limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) }, caller);
    seen.push(...ids(page.runs));
    if (!page.nextCursor) return seen;
    assert.equal(page.runs.length, limit, 'only the last page is short');
    cursor = page.nextCursor;
  }
}

for (const mode of ['search attributes', 'scan'] as const) {
  const indexed = mode === 'search attributes';

  describe(`list_runs (${mode})`, { timeout: 5 * 60_000 }, () => {
    let stack: InProcessStack;
    /** Starts runs on the worker's task queue. */
    let service: RunService;
    /** Starts runs on a task queue no worker polls. */
    let idle: RunService;
    /** The runs each principal started, with the status each must end up listed with. */
    const expected = new Map<string, Map<string, RunStatusName>>();

    function expect(caller: Caller, runId: string, status: RunStatusName): void {
      const runs = expected.get(caller.principal) ?? new Map<string, RunStatusName>();
      runs.set(runId, status);
      expected.set(caller.principal, runs);
    }

    async function start(on: RunService, caller: Caller, params: StartParams, status: RunStatusName): Promise<string> {
      const { runId } = await on.start(params, caller);
      expect(caller, runId, status);
      return runId;
    }

    /** Visibility is eventually consistent: wait until the caller's listing shows every run as expected. */
    async function settled(caller: Caller, on = service): Promise<RunSummary[]> {
      const want = expected.get(caller.principal) ?? new Map<string, RunStatusName>();
      let runs: RunSummary[] = [];
      await waitFor(`${caller.principal}'s runs in list_runs`, async () => {
        runs = (await on.list({ limit: 100 }, caller)).runs;
        return runs.length === want.size && runs.every((r) => want.get(r.runId) === r.status);
      }, 60_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; listed ${JSON.stringify(runs.map((r) => [r.runId, r.status]))}, want ${JSON.stringify([...want])}`);
      });
      return runs;
    }

    /** Every listing of the caller agrees with the full one: pages of any size, each status, page by page. */
    async function assertListings(caller: Caller, on = service): Promise<void> {
      const all = await settled(caller, on);
      assertNewestFirst(all);
      for (const limit of [1, 4, 7]) assert.deepEqual(await pageThrough(on, caller, limit), ids(all), `pages of ${limit}`);
      for (const status of RUN_STATUSES) {
        const want = ids(all.filter((r) => r.status === status));
        assert.deepEqual(ids((await on.list({ status, limit: 100 }, caller)).runs), want, `status ${status}`);
        assert.deepEqual(await pageThrough(on, caller, 2, status), want, `status ${status}, pages of 2`);
      }
    }

    before(async () => {
      stack = await startInProcessStack(WORKER_QUEUE, { searchAttributes: indexed });
      service = stack.service(WORKER_QUEUE);
      idle = stack.service(IDLE_QUEUE);
    });
    after(async () => {
      await stack?.close();
    });

    it(`decides at start-up to ${indexed ? 'use' : 'do without'} the search attributes, and starts runs accordingly`, async () => {
      assert.equal(await service.usesSearchAttributes(), indexed);
      const runId = await start(idle, alice, { task: 'look at my attributes' }, 'running');
      const desc = await stack.temporal.client.workflow.getHandle(runId).describe();
      const attributes = desc.typedSearchAttributes;
      if (indexed) {
        assert.equal(attributes.get(RUN_OWNER), ownerKeyword(alice.principal));
        assert.equal(attributes.get(RUN_STATUS), 'running');
        assert.equal(attributes.get(RUN_STARTED_AT)?.toISOString(), (desc.memo as { startedAt: string }).startedAt);
      } else {
        for (const key of [RUN_OWNER, RUN_STATUS, RUN_STARTED_AT]) assert.equal(attributes.get(key), undefined, key.name);
      }
    });

    it('pages through every run exactly once, newest first, owner by owner and status by status', async () => {
      const many = (n: number, caller: Caller, params: StartParams, status: RunStatusName) =>
        Promise.all(Array.from({ length: n }, (_, i) => start(idle, caller, { ...params, task: `${params.task} ${i}` }, status)));
      // Open runs older than everything that closes, a long run that closes after newer short ones,
      // short runs of two owners started at once (equal startedAt is likely), then newer open runs.
      await Promise.all([many(4, alice, { task: 'old open' }, 'running'), many(2, bob, { task: 'bob open' }, 'running')]);
      await start(idle, alice, { task: 'long', timeoutSeconds: 6 }, 'timed_out');
      await Promise.all([many(8, alice, { task: 'short', timeoutSeconds: 1 }, 'timed_out'), many(6, bob, { task: 'bob short', timeoutSeconds: 1 }, 'timed_out')]);
      stack.model.script('list-done', [{ content: 'done' }]);
      await start(service, alice, { task: 'answers at once [script:list-done]', approval: 'none' }, 'completed');
      for (const who of ['alice', 'bob']) {
        stack.model.script(`list-park-${who}`, [{ toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${stack.sink.url}/park` } }] }, { content: 'approved' }]);
      }
      await start(service, alice, { task: 'parks [script:list-park-alice]', approval: 'all' }, 'waiting_for_approval');
      await start(service, bob, { task: 'parks [script:list-park-bob]', approval: 'all' }, 'waiting_for_approval');
      await many(4, alice, { task: 'new open' }, 'running');

      await assertListings(alice);
      await assertListings(bob);
      const aliceRuns = new Set(expected.get(alice.principal)!.keys());
      assert.ok(!(await service.list({ limit: 100 }, bob)).runs.some((r) => aliceRuns.has(r.runId)), "bob never sees alice's runs");
      assert.deepEqual(await service.list({ limit: 100 }, carol), { runs: [] });
      // Another server on the same namespace lists the same.
      assert.deepEqual(await idle.list({ limit: 100 }, alice), await service.list({ limit: 100 }, alice));
    });

    it('pages exactly through runs started at the same millisecond, and at milliseconds that end in zero', async () => {
      // SQL visibility writes a Datetime literal without trailing zeros (.590 as .59): a page that ends
      // at such a run must still give the next run of the same millisecond.
      const dave: Caller = { principal: 'dave', client: 'test' };
      const times = ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.500Z', '2026-01-01T00:00:00.590Z', '2026-01-01T00:00:00.590Z', '2026-01-01T00:00:01.100Z'];
      await Promise.all(
        times.map(async (startedAt, i) => {
          const workflowId = `dave-${i}-${process.pid}`;
          await stack.temporal.client.workflow.start('agentWorkflow', {
            taskQueue: IDLE_QUEUE,
            workflowId,
            args: [],
            memo: { owner: dave.principal, task: `at ${startedAt}`, startedAt, agentStatus: 'running' },
            ...(indexed ? { typedSearchAttributes: newRunSearchAttributes(dave.principal, startedAt) } : {}),
          });
          expect(dave, workflowId, 'running');
        }),
      );
      await assertListings(dave);
    });

    it('follows a run through its approval, and lists a sub-agent with its owner\'s runs', async () => {
      const parked = [...expected.get(alice.principal)!].find(([, s]) => s === 'waiting_for_approval')![0];
      const attributeOf = async (runId: string) => (await stack.temporal.client.workflow.getHandle(runId).describe()).typedSearchAttributes.get(RUN_STATUS);
      if (indexed) assert.equal(await attributeOf(parked), 'waiting_for_approval');
      const { pendingApprovals } = await service.status(parked, alice);
      await service.approve(parked, pendingApprovals[0]!.approvalId, 'approve', undefined, alice);
      assert.equal((await service.result(parked, 30, alice)).status, 'completed');
      expect(alice, parked, 'completed');
      if (indexed) assert.equal(await attributeOf(parked), 'running', 'the last upsert, when the approval was decided');

      stack.model.script('list-parent', [{ toolCalls: [{ name: 'delegate', arguments: { task: 'sub-task [script:list-child]' } }] }, { content: 'parent done' }]);
      stack.model.script('list-child', [{ content: 'child done' }]);
      const parent = await start(service, alice, { task: 'delegates [script:list-parent]', approval: 'none' }, 'completed');
      assert.equal((await service.result(parent, 30, alice)).status, 'completed');
      const child = `${parent}.sub-1-0`;
      expect(alice, child, 'completed');
      const all = await settled(alice);
      assert.equal(all.find((r) => r.runId === child)?.parentRunId, parent);
      if (indexed) {
        const desc = await stack.temporal.client.workflow.getHandle(child).describe();
        assert.equal(desc.typedSearchAttributes.get(RUN_OWNER), ownerKeyword(alice.principal));
        assert.equal(desc.typedSearchAttributes.get(RUN_STARTED_AT)?.toISOString(), (desc.memo as { startedAt: string }).startedAt);
      }
      await assertListings(alice);
      assert.ok(!(await service.list({ limit: 100 }, bob)).runs.some((r) => r.runId === child));
    });

    if (indexed) {
      it('filters the owner in visibility, and the memo still has the last word', async () => {
        const startedAt = new Date().toISOString();
        const forge = (workflowId: string, memoOwner: string, attributeOwner: string) =>
          stack.temporal.client.workflow.start('agentWorkflow', {
            taskQueue: IDLE_QUEUE,
            workflowId,
            args: [],
            memo: { owner: memoOwner, task: 'forged', startedAt, agentStatus: 'running' },
            typedSearchAttributes: newRunSearchAttributes(attributeOwner, startedAt),
          });
        // The scan would list the first (its memo says alice); visibility never shows it to her.
        await forge(`forged-attribute-${process.pid}`, alice.principal, 'mallory');
        await forge(`forged-memo-${process.pid}`, 'mallory', alice.principal);
        const marker = await start(idle, alice, { task: 'started after the forged runs' }, 'running');
        const runs = await settled(alice);
        assert.ok(runs.some((r) => r.runId === marker));
        assert.ok(!runs.some((r) => r.runId.startsWith('forged-')), JSON.stringify(runs.filter((r) => r.runId.startsWith('forged-'))));
      });
    }

    it(`over stdio ${indexed ? 'says nothing about' : 'warns once on stderr (never stdout) how to register'} the search attributes`, async () => {
      const server = await spawnServer({
        args: ['serve', '--no-service', '--no-worker'],
        env: { TEMPORAL_ADDRESS: stack.dev.address, DURABLE_AGENT_TASK_QUEUE: WORKER_QUEUE, DURABLE_AGENT_HOME: path.join(stack.dev.dir, 'stdio-home'), OPENAI_API_KEY: 'test-key' },
      });
      try {
        for (let i = 0; i < 2; i++) assert.ok(!(await callTool(server.client, 'list_runs', {})).isError);
        const warnings = server.stderr().split('\n').filter((line) => line.includes('list_runs falls back to scanning'));
        if (indexed) {
          assert.deepEqual(warnings, []);
        } else {
          assert.equal(warnings.length, 1, server.stderr());
          for (const command of registerCommands('default')) assert.ok(warnings[0]!.includes(command), `${warnings[0]} names ${command}`);
          assert.match(warnings[0]!, /DurableAgentOwner \(Keyword\), DurableAgentStatus \(Keyword\), DurableAgentStartedAt \(Datetime\)/);
        }
        for (const line of server.stdoutLines()) assert.equal((JSON.parse(line) as { jsonrpc?: string }).jsonrpc, '2.0', line);
      } finally {
        await server.close();
      }
    });

    if (!indexed) {
      it('once the attributes are registered, a restarted server lists the older runs with the new ones', async () => {
        for (const command of registerCommands('default')) {
          execFileSync(temporalCliPath(), [...command.split(' ').slice(1), '--address', stack.dev.address], { stdio: 'pipe' });
        }
        // Each server asks once, at start-up; the namespace may take a moment to list the new attributes.
        let restarted = stack.service(IDLE_QUEUE);
        await waitFor('a server to find the attributes', async () => {
          if (await restarted.usesSearchAttributes()) return true;
          restarted = stack.service(IDLE_QUEUE);
          return false;
        });
        // The frontend may take a moment more to accept them on a start.
        let first: string | undefined;
        await waitFor('a start with the new attributes', async () => {
          first = await start(restarted, alice, { task: 'after the upgrade 0' }, 'running').catch(() => undefined);
          return first !== undefined;
        });
        await start(restarted, alice, { task: 'after the upgrade 1', timeoutSeconds: 1 }, 'timed_out');
        await start(restarted, bob, { task: 'bob after the upgrade' }, 'running');
        await start(restarted, alice, { task: 'after the upgrade 2' }, 'running');
        const desc = await stack.temporal.client.workflow.getHandle(first!).describe();
        assert.equal(desc.typedSearchAttributes.get(RUN_OWNER), ownerKeyword(alice.principal));
        await assertListings(alice, restarted);
        await assertListings(bob, restarted);
      });
    }
  });
}
