// The Temporal floor, for reading figures 1 and 3: a bare SDK worker and client in one process on
// the same dev server, running a workflow of no-op activities. No MCP, no model, no agent code.
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { percentiles, type Percentiles, type Stack } from './support.js';

const CHAIN = 20;
const ROUNDS = 5;
const CONCURRENCY = [10, 50];

export interface FloorResult {
  /** One activity round trip (workflow task + activity task), from chains of CHAIN activities. */
  perActivityMs: Percentiles;
  /** Workflows of two no-op activities (the shape of a one-step agent run) completed per second. */
  runsPerSecond: Record<string, number>;
}

let runtimeInstalled = false;

export async function measureFloor(stack: Stack): Promise<FloorResult> {
  if (!runtimeInstalled) {
    // Core logs to stdout unless told otherwise; the table goes there.
    Runtime.install({ logger: new DefaultLogger('WARN', (entry) => process.stderr.write(`[temporal] ${entry.message}\n`)) });
    runtimeInstalled = true;
  }
  const quiet = new DefaultLogger('WARN', (entry) => process.stderr.write(`[bundler] ${entry.message}\n`));
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./floorWorkflow.js', import.meta.url)), logger: quiet });
  const connection = await NativeConnection.connect({ address: stack.dev.address });
  const taskQueue = 'bench-floor';
  const worker = await Worker.create({ connection, taskQueue, workflowBundle, activities: { noop: (i: number) => Promise.resolve(i) } });
  const client = new Client({ connection });
  const run = (n: number) => client.workflow.execute('floorWorkflow', { taskQueue, workflowId: `floor-${n}-${Math.random().toString(36).slice(2)}`, args: [n] });
  try {
    return await worker.runUntil(async () => {
      await run(CHAIN); // warm-up
      const perActivity: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        await run(CHAIN);
        perActivity.push((performance.now() - t0) / CHAIN);
      }
      const runsPerSecond: Record<string, number> = {};
      for (const concurrency of CONCURRENCY) {
        const total = concurrency * 5;
        let next = 0;
        const t0 = performance.now();
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next++ < total) await run(2);
        }));
        runsPerSecond[`${concurrency} concurrent`] = total / ((performance.now() - t0) / 1000);
      }
      return { perActivityMs: percentiles(perActivity), runsPerSecond };
    });
  } finally {
    await connection.close();
  }
}
