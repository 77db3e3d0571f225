// A Temporal worker polling the task queue: runs agent workflows and their activities.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { McpPool } from '../activities/mcpServers.js';
import type { Config } from '../config.js';
import { log } from '../log.js';
import type { TemporalHandle } from '../temporal/connect.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Built by `npm run build` (scripts/bundle-workflows); bundling at start-up is the fallback. */
export const PREBUILT_BUNDLE = join(here, '..', '..', 'workflow-bundle.js');
export const WORKFLOWS_PATH = join(here, '..', 'workflows', 'index.js');

async function loadWorkflowBundle(): Promise<WorkflowBundleOption> {
  if (existsSync(PREBUILT_BUNDLE)) return { codePath: PREBUILT_BUNDLE };
  log.warn('no prebuilt workflow bundle found; bundling workflow code now (run `npm run build` to avoid this)');
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => log.warn(m),
  error: (m: string) => log.error(m),
};

export interface RunningWorker {
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorker(config: Config, temporal: TemporalHandle): Promise<RunningWorker> {
  if (config.workspace) mkdirSync(config.workspace, { recursive: true });
  // MCP servers start now so a broken one shows on stderr at once; none of them can stop the worker.
  const mcp = McpPool.fromFile(config.mcpConfig);
  mcp.startAll().catch((err: unknown) => log.error('MCP servers', { error: err instanceof Error ? err.message : String(err) }));
  const worker = await Worker.create({
    connection: temporal.connection,
    namespace: temporal.namespace,
    taskQueue: config.taskQueue,
    workflowBundle: await loadWorkflowBundle(),
    activities: createActivities(config, mcp),
    // A dead worker's sticky queue is abandoned quickly so another worker takes over.
    stickyQueueScheduleToStartTimeout: '3 seconds',
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
    // Reads run as local activities (see agentWorkflow.ts): the same bound applies to them.
    maxConcurrentLocalActivityExecutions: config.maxConcurrentActivities,
    ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
    shutdownGraceTime: '5 seconds',
  });
  log.info('worker polling', { taskQueue: config.taskQueue, namespace: temporal.namespace });
  const done = worker
    .run()
    .catch((err: unknown) => {
      log.error('worker stopped with an error', { error: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => mcp.close());
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
