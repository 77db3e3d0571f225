// The smallest durable loop: `n` no-op activities in a row. Bundled by bench/floor.ts to measure
// what Temporal itself costs on this machine, the floor under every figure of the agent.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(i: number): Promise<number> }>({ startToCloseTimeout: '10 seconds' });

export async function floorWorkflow(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await noop(i);
  return n;
}
