// Figure 1, the durability tax: one 10-step task (a model turn and an http_request GET per step,
// then a final answer) run (a) as a durable run through the MCP server (stdio) and its worker, and
// (b) as a plain in-process loop calling the very same activity functions, interleaved a/b/a/b.
import { agentScript, compareDurableAndPlain, get } from './agentRuns.js';
import type { Percentiles, Stack } from './support.js';

const STEPS = 10;
const ROUNDS = 10;

export interface TaxResult {
  steps: number;
  rounds: number;
  durableMs: Percentiles;
  plainMs: Percentiles;
  ratio: number;
  overheadPerStepMs: number;
}

export async function measureDurabilityTax(stack: Stack): Promise<TaxResult> {
  const { durableMs, plainMs, ratio } = await compareDurableAndPlain(stack, 'tax', ROUNDS, (id) =>
    agentScript(id, Array.from({ length: STEPS }, (_, s) => [get(`${stack.sink.url}/tax/${id}/${s}`)])),
  );
  return { steps: STEPS, rounds: ROUNDS, durableMs, plainMs, ratio, overheadPerStepMs: (durableMs.p50 - plainMs.p50) / STEPS };
}
