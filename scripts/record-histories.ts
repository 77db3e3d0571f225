// Records event histories of real runs for the replay test (test/replay.test.ts).
//
//   npm run record-histories -- <label> [scenario…]   writes test/histories/<label>/<scenario>.json
//
// Each scenario runs through the real start/approve/cancel path (RunService) on a fresh Temporal
// dev server, with an in-process worker, the scripted model server and the sink. Keep the
// histories of every released version: they stand for the runs users have in flight.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { buildConfig, parseArgs } from '../src/config.js';
import { localPrincipal, type Caller } from '../src/server/principal.js';
import { RunService } from '../src/server/runService.js';
import { connectTemporal } from '../src/temporal/connect.js';
import { startWorker } from '../src/worker/worker.js';
import { startModelServer, type Step, type ToolCallSpec } from '../test/support/modelServer.js';
import { startSinkServer } from '../test/support/sinkServer.js';
import { repoRoot, startDevServer } from '../test/support/temporal.js';

const label = process.argv[2];
if (!label || !/^[a-z0-9][a-z0-9.-]*$/.test(label)) {
  process.stderr.write('usage: npm run record-histories -- <label>   (lower-case letters, digits, dots, dashes)\n');
  process.exit(2);
}
const outDir = join(repoRoot, 'test', 'histories', label);

/** Suggest continue-as-new early, so a 12-step run spans several executions. */
const SUGGEST_CONTINUE_AS_NEW_AT = 60;

const [dev, model, sink] = await Promise.all([
  startDevServer({ extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_CONTINUE_AS_NEW_AT}`] }),
  startModelServer(),
  startSinkServer(),
]);
// The toolbox scenario uses a workspace and the counting MCP server of the tests.
const mcpConfigFile = join(dev.dir, 'mcp.json');
writeFileSync(
  mcpConfigFile,
  JSON.stringify({ mcpServers: { counting: { command: process.execPath, args: [join(repoRoot, 'dist', 'test', 'support', 'countingMcpServer.js')] } } }),
);
const config = buildConfig(parseArgs(['serve', '--no-service']), {
  DURABLE_AGENT_WORKSPACE: join(dev.dir, 'workspace'),
  DURABLE_AGENT_MCP_CONFIG: mcpConfigFile,
  TEMPORAL_ADDRESS: dev.address,
  OPENAI_BASE_URL: model.baseUrl,
  OPENAI_API_KEY: 'record-key',
  DURABLE_AGENT_MODEL: 'record-model',
  DURABLE_AGENT_TASK_QUEUE: 'record-histories',
  DURABLE_AGENT_HOME: join(dev.dir, 'home'),
  DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
});
const temporal = await connectTemporal(config);
const worker = await startWorker(config, temporal);
const runs = new RunService(config, () => Promise.resolve(temporal));
const caller: Caller = { principal: localPrincipal(), client: 'record-histories' };

const getCall = (path: string): ToolCallSpec => ({ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}${path}` } });
const postCall = (path: string): ToolCallSpec => ({ name: 'http_request', arguments: { method: 'POST', url: `${sink.url}${path}`, body: 'x' } });
const get = (path: string): Step => ({ toolCalls: [getCall(path)] });
const post = (path: string): Step => ({ toolCalls: [postCall(path)] });

async function waitForApproval(runId: string, after?: string): Promise<string> {
  for (;;) {
    const status = await runs.status(runId, caller);
    const first = status.pendingApprovals.find((p) => p.approvalId !== after);
    if (first) return first.approvalId;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Scenario {
  name: string;
  steps: Step[];
  start?: { approval?: 'none' | 'writes' | 'all'; maxSteps?: number; maxTokens?: number };
  /** What the caller does while the run is open. */
  drive?: (runId: string) => Promise<void>;
}

const scenarios: Scenario[] = [
  { name: 'happy-path', steps: [get('/happy'), { content: 'the answer' }] },
  {
    name: 'approved-write',
    steps: [post('/approved'), { content: 'written' }],
    drive: async (runId) => void (await runs.approve(runId, await waitForApproval(runId), 'approve', 'looks right', caller)),
  },
  {
    name: 'rejected-write',
    steps: [post('/rejected'), { content: 'not written' }],
    drive: async (runId) => void (await runs.approve(runId, await waitForApproval(runId), 'reject', 'not now', caller)),
  },
  {
    name: 'cancelled',
    steps: [post('/cancelled'), { content: 'never' }],
    drive: async (runId) => {
      await waitForApproval(runId);
      await runs.cancel(runId, caller);
    },
  },
  {
    name: 'retries',
    steps: [{ status: 503, body: { error: { message: 'busy' } } }, get('/fail503'), { content: 'done despite errors' }],
  },
  { name: 'bad-tool-calls', steps: [{ toolCalls: [{ name: 'no_such_tool', arguments: {} }, { name: 'http_request', arguments: '{oops' }] }, { content: 'ok' }] },
  { name: 'max-steps', steps: [get('/loop')], start: { maxSteps: 2 } },
  { name: 'model-unauthorized', steps: [{ status: 401, body: { error: { message: 'bad key' } } }] },
  {
    name: 'toolbox',
    steps: [
      { toolCalls: [{ name: 'workspace_write', arguments: { path: 'a.txt', content: 'alpha' } }] },
      { toolCalls: [{ name: 'workspace_read', arguments: { path: 'a.txt' } }, { name: 'counting__append_line', arguments: { text: 'x' } }] },
      { content: 'done with the toolbox' },
    ],
    start: { maxTokens: 1_000_000 },
    drive: async (runId) => {
      await runs.sendMessage(runId, 'a message from the caller', caller);
      const first = await waitForApproval(runId);
      await runs.approve(runId, first, 'approve', undefined, caller);
      await runs.approve(runId, await waitForApproval(runId, first), 'approve', undefined, caller);
    },
  },
  {
    // A sub-agent of a parent with one turn left: since delegate-budget it gets that one turn, no more.
    name: 'delegate',
    steps: [{ toolCalls: [{ name: 'delegate', arguments: { task: 'sub-task [script:delegate-child]' } }] }, { content: 'parent done' }],
    start: { approval: 'none', maxSteps: 2, maxTokens: 1_000_000 },
  },
  {
    name: 'dressed-write',
    steps: [
      { toolCalls: [{ name: 'http_request', arguments: { method: 'GET', url: `${sink.url}/dressed`, headers: { 'X-HTTP-Method-Override': 'DELETE' } } }] },
      { content: 'deleted' },
    ],
    // Gated since the dressed-writes patch; before it the call ran at once, so either may happen.
    drive: async (runId) => {
      for (;;) {
        const status = await runs.status(runId, caller);
        const first = status.pendingApprovals[0];
        if (first) return void (await runs.approve(runId, first.approvalId, 'approve', undefined, caller));
        if (status.status !== 'running') return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  },
  {
    // Since parallel-tools the calls of one turn run at once, and its gated calls are asked together.
    name: 'parallel-turn',
    steps: [{ toolCalls: [getCall('/par-read'), postCall('/par-write-1'), postCall('/par-write-2')] }, { content: 'in parallel' }],
    drive: async (runId) => {
      for (;;) {
        const status = await runs.status(runId, caller);
        const [first, second] = status.pendingApprovals;
        if (first && second) {
          await runs.approve(runId, first.approvalId, 'approve', undefined, caller);
          return void (await runs.approve(runId, second.approvalId, 'reject', 'not this one', caller));
        }
        // Before the patch the calls ran one after another: decide each as it comes.
        if (first) await runs.approve(runId, first.approvalId, 'approve', undefined, caller);
        if (status.status !== 'running' && status.status !== 'waiting_for_approval') return;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  },
  { name: 'continue-as-new', steps: [...Array.from({ length: 12 }, (_, i) => get(`/can-${i}`)), { content: 'twelve steps later' }], start: { approval: 'none', maxSteps: 20 } },
];

/** Scenario names after the label record only those. */
const only = process.argv.slice(3);
mkdirSync(outDir, { recursive: true });
model.script('delegate-child', [get('/delegate-child'), { content: 'the sub-agent\'s answer' }]);
try {
  for (const scenario of scenarios.filter((s) => !only.length || only.includes(s.name))) {
    model.script(scenario.name, scenario.steps);
    const { runId } = await runs.start({ task: `${scenario.name} [script:${scenario.name}]`, ...scenario.start }, caller);
    await scenario.drive?.(runId);
    const final = await runs.result(runId, 60, caller);
    // Every execution of the run (continue-as-new makes several), oldest first.
    const executions = [];
    for await (const e of temporal.client.workflow.list({ query: `WorkflowId = '${runId}'` })) executions.push(e);
    executions.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    for (const [i, execution] of executions.entries()) {
      const history = await temporal.client.workflow.getHandle(runId, execution.runId).fetchHistory();
      const file = join(outDir, executions.length > 1 ? `${scenario.name}-${i + 1}.json` : `${scenario.name}.json`);
      writeFileSync(file, `${historyToJSON(history)}\n`);
    }
    process.stderr.write(`${scenario.name}: ${final.status}, ${executions.length} execution(s)\n`);
  }
} finally {
  await worker.shutdown();
  await temporal.close();
  await Promise.all([dev.stop(), model.close(), sink.close()]);
}
process.stderr.write(`histories written to ${outDir}\n`);
