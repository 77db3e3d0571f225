// The background service of a data dir: the embedded Temporal dev server (when TEMPORAL_ADDRESS is
// unset) and a worker, detached from the stdio fronts that clients spawn, so runs keep going after
// the client quits. It stops itself after an idle period with no open run and no front attached.
import { rmSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { processStartId, sleep } from '../processes/identity.js';
import { prepareDataDir, writeFileAtomic } from '../processes/stateFiles.js';
import { connectTemporal } from '../temporal/connect.js';
import { startWorker } from '../worker/worker.js';
import { capLog, liveFronts, openRuns, readRecord, readServiceState, servicePaths, type ServiceState } from './control.js';

/** How long the idle check waits for Temporal to count open runs. */
const COUNT_TIMEOUT_MS = 5_000;

/** `service run`: the service body, in the foreground of its own detached process. */
export async function runService(config: Config): Promise<void> {
  const p = servicePaths(config.dataDir);
  prepareDataDir(config.dataDir);
  const temporal = await connectTemporal(config);
  const worker = config.noWorker ? undefined : await startWorker(config, temporal);
  const startId = processStartId(process.pid);
  const state: ServiceState = {
    pid: process.pid,
    ...(startId ? { startId } : {}),
    temporalAddress: temporal.address,
    namespace: temporal.namespace,
    ...(temporal.devServer ? { uiUrl: temporal.devServer.state.uiUrl } : {}),
    taskQueue: config.taskQueue,
    worker: Boolean(worker),
    startedAt: new Date().toISOString(),
  };
  const writeState = () => writeFileAtomic(p.state, JSON.stringify(state, null, 2));
  writeState();
  log.info('background service ready', { ...state });

  let stopping = false;
  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const idle = (async () => {
    const idleMs = config.idleShutdownSeconds * 1000;
    const checkEvery = Math.min(5_000, Math.max(250, idleMs / 4));
    let idleSince: number | undefined;
    while (!stopping) {
      await sleep(checkEvery);
      if (stopping) break;
      capLog(p.log);
      // Fronts find the service by its record: put it back if it was lost or corrupted. A record
      // naming another live service means that one took over the data dir: leave it to it.
      const recorded = readRecord(config.dataDir);
      if (recorded?.pid !== process.pid) {
        if (readServiceState(config.dataDir)) return 'another service runs for this data dir';
        log.warn('the service record was missing or unreadable; writing it again');
        writeState();
      }
      // Only fronts provably alive, or open runs Temporal actually counted, keep the service up:
      // an unreachable Temporal is no reason to stay (the next front starts the service again).
      const checkedAt = Date.now();
      const busy = liveFronts(config.dataDir) > 0 || ((await openRunsOrUndefined(temporal.client)) ?? 0) > 0;
      if (busy) idleSince = undefined;
      else idleSince ??= checkedAt;
      if (idleSince !== undefined && Date.now() - idleSince >= idleMs) return 'idle';
    }
    return 'stopping';
  })();
  const reason = await Promise.race([stop, idle, worker ? worker.done.then(() => 'worker stopped') : new Promise<string>(() => undefined)]);
  stopping = true;
  log.info('background service stopping', { reason });
  const force = setTimeout(() => process.exit(1), 20_000);
  force.unref();
  await worker?.shutdown().catch(() => undefined);
  await temporal.close().catch(() => undefined);
  if (readRecord(config.dataDir)?.pid === process.pid) rmSync(p.state, { force: true });
  process.exit(0);
}

let pendingCount: Promise<number | undefined> | undefined;

/** Open runs, or undefined when Temporal does not answer in time (one count in flight at most). */
async function openRunsOrUndefined(client: Client): Promise<number | undefined> {
  if (pendingCount) return undefined; // the previous count is still retrying: Temporal is not answering
  const count = openRuns(client).catch(() => undefined);
  pendingCount = count;
  void count.finally(() => (pendingCount = undefined));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), COUNT_TIMEOUT_MS)));
  try {
    return await Promise.race([count, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
