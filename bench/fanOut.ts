// Figure 9, fan-out: one model turn asking for 8 tool calls of 500 ms each (GETs the sink answers
// after 500 ms), then the final answer. The turn's wall time is taken at the scripted model server:
// from the moment it writes the reply asking for the 8 calls to the moment the next request (with
// the 8 observations) arrives. That is everything the run puts between the model asking and the model
// hearing back (the model activity's completion, the workflow tasks on both sides of the calls, the
// calls themselves, the next model activity's dispatch), seen from outside the run and on one clock,
// so nothing the durable side does is left out of the window; the ideal is 500 ms. The plain
// in-process loop is timed the same way, interleaved, as the reference. A third row reads the run's
// history: first tool call scheduled to last completed, the calls alone as Temporal saw them, so the
// difference to the turn is the workflow-task overhead around them. The GETs run as local activities
// (reads), whose markers carry their schedule and completion times; regular ones are read too.
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { Step } from '../test/support/modelServer.js';
import { agentScript, get, interleave, plainRunner, startDurableRunner } from './agentRuns.js';
import { percentiles, type Percentiles, type Stack } from './support.js';

const CALLS = 8;
const CALL_MS = 500;
const ROUNDS = 20;

const EventType = proto.temporal.api.enums.v1.EventType;

export interface FanOutResult {
  calls: number;
  callMs: number;
  rounds: number;
  /** The durable side's DURABLE_AGENT_MAX_PARALLEL_TOOLS; undefined = the default. */
  maxParallelTools: string | undefined;
  /** Model reply with the calls written → next model request arrived, durable run. */
  durableTurnMs: Percentiles;
  /** The same window for the in-process loop. */
  plainTurnMs: Percentiles;
  /** From the run's history: first tool call scheduled → last one completed. */
  durableToolSpanMs: Percentiles;
}

/** A fan-out script whose turn window is recorded when the run has gone through it. */
function timedScript(stack: Stack, id: string): { script: Step[]; turnMs(): number } {
  let replied = NaN;
  let next = NaN;
  const calls = Array.from({ length: CALLS }, (_, c) => get(`${stack.sink.url}/fanout/${id}/${c}?delayMs=${CALL_MS}`));
  const script = agentScript(id, [calls], 0, {
    replying: (n) => {
      if (n === 0) replied = performance.now();
    },
    arrived: (n) => {
      if (n === 1) next = performance.now();
    },
  });
  return {
    script,
    turnMs() {
      if (!Number.isFinite(replied) || !Number.isFinite(next)) throw new Error(`fan-out ${id}: the turn was not seen at the model server`);
      return next - replied;
    },
  };
}

/**
 * First tool call scheduled → last one completed: regular activities by the server's event times,
 * local ones (reads) by the schedule and completion times their markers record.
 */
async function toolSpanMs(client: Client, runId: string): Promise<number> {
  const events = (await client.workflow.getHandle(runId).fetchHistory()).events ?? [];
  const scheduled = new Set<string>();
  let calls = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const event of events) {
    const at = tsToMs(event.eventTime);
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && event.activityTaskScheduledEventAttributes?.activityType?.name === 'httpRequest') {
      scheduled.add(String(event.eventId));
      calls += 1;
      first = Math.min(first, at);
    } else if (
      event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED &&
      scheduled.has(String(event.activityTaskCompletedEventAttributes?.scheduledEventId))
    ) {
      last = Math.max(last, at);
    } else if (event.eventType === EventType.EVENT_TYPE_MARKER_RECORDED && event.markerRecordedEventAttributes?.markerName === 'core_local_activity') {
      const data = defaultPayloadConverter.fromPayload<LocalActivityMarkerData>(event.markerRecordedEventAttributes.details!.data!.payloads![0]!);
      if (data.activity_type !== 'readHttp') continue;
      calls += 1;
      first = Math.min(first, timeMs(data.original_schedule_time));
      last = Math.max(last, timeMs(data.complete_time));
    }
  }
  if (calls !== CALLS) throw new Error(`fan-out run ${runId}: ${calls} tool calls in its history, not ${CALLS}`);
  return last - first;
}

/** What is read here of core's local-activity marker (snake_case, as core writes it). */
interface LocalActivityMarkerData {
  activity_type: string;
  complete_time: { seconds: number; nanos: number };
  original_schedule_time: { seconds: number; nanos: number };
}

function timeMs(time: { seconds: number; nanos: number }): number {
  return time.seconds * 1000 + time.nanos / 1e6;
}

export async function measureFanOut(stack: Stack): Promise<FanOutResult> {
  const durable = await startDurableRunner(stack, 'fanout');
  const plain = plainRunner(stack, 'fanout');
  const connection = await Connection.connect({ address: stack.dev.address });
  const client = new Client({ connection });
  try {
    const samples = await interleave(
      ROUNDS,
      async (round) => {
        const id = `fanout-d-${round}`;
        const timed = timedScript(stack, id);
        const { runId } = await durable.run(id, timed.script);
        return { turnMs: timed.turnMs(), toolSpanMs: await toolSpanMs(client, runId) };
      },
      async (round) => {
        const id = `fanout-p-${round}`;
        const timed = timedScript(stack, id);
        await plain(id, timed.script);
        return timed.turnMs();
      },
    );
    return {
      calls: CALLS,
      callMs: CALL_MS,
      rounds: ROUNDS,
      maxParallelTools: durable.maxParallelTools,
      durableTurnMs: percentiles(samples.a.map((s) => s.turnMs)),
      plainTurnMs: percentiles(samples.b),
      durableToolSpanMs: percentiles(samples.a.map((s) => s.toolSpanMs)),
    };
  } finally {
    await connection.close();
    await durable.close();
  }
}
