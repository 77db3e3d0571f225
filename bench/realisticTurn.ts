// Figure 8, a realistic turn: a model that thinks 400 ms on every call and asks for 3 tool calls
// of 300 ms each (GETs the sink answers after 300 ms) per turn, 5 such turns then the final answer.
// A durable run (MCP over stdio + worker) against the in-process loop that runs a turn's calls at
// once, interleaved a/b/a/b. Unlike figure 1 the waits are real, so the ratio is what a user feels.
import { agentScript, compareDurableAndPlain, get, type Comparison } from './agentRuns.js';
import type { Stack } from './support.js';

const TURNS = 5;
const CALLS = 3;
const CALL_MS = 300;
const THINK_MS = 400;
const ROUNDS = 10;

export interface RealisticTurnResult extends Comparison {
  turns: number;
  callsPerTurn: number;
  callMs: number;
  thinkMs: number;
  rounds: number;
  /** The waits alone: every model call's think time plus one call per turn, as if nothing else cost. */
  idealMs: number;
  overheadPerTurnMs: number;
}

export async function measureRealisticTurn(stack: Stack): Promise<RealisticTurnResult> {
  const comparison = await compareDurableAndPlain(stack, 'turn', ROUNDS, (id) =>
    agentScript(
      id,
      Array.from({ length: TURNS }, (_, t) => Array.from({ length: CALLS }, (_, c) => get(`${stack.sink.url}/turn/${id}/${t}-${c}?delayMs=${CALL_MS}`))),
      THINK_MS,
    ),
  );
  return {
    ...comparison,
    turns: TURNS,
    callsPerTurn: CALLS,
    callMs: CALL_MS,
    thinkMs: THINK_MS,
    rounds: ROUNDS,
    idealMs: (TURNS + 1) * THINK_MS + TURNS * CALL_MS,
    overheadPerTurnMs: (comparison.durableMs.p50 - comparison.plainMs.p50) / TURNS,
  };
}
