/**
 * A dev server, the scripted model and the sink, with one Temporal connection and a worker in the test's
 * own process: for tests that drive RunService directly (several servers on one namespace, a fresh server
 * with nothing cached).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildConfig, parseArgs, type Config } from '../../src/config.js';
import { RunService } from '../../src/server/runService.js';
import { connectTemporal, type TemporalHandle } from '../../src/temporal/connect.js';
import { startWorker, type RunningWorker } from '../../src/worker/worker.js';
import { startModelServer, type ModelServer } from './modelServer.js';
import { startSinkServer, type SinkServer } from './sinkServer.js';
import { startDevServer, type DevServer, type DevServerOptions } from './temporal.js';

export interface InProcessStack {
  dev: DevServer;
  model: ModelServer;
  sink: SinkServer;
  temporal: TemporalHandle;
  /** The configuration of a server process on this stack whose runs go to `queue`. */
  configFor(queue: string): Config;
  /** A new run service (a server process, as far as Temporal can tell) on the shared connection. */
  service(queue: string): RunService;
  close(): Promise<void>;
}

/** `workerQueue`: the task queue the in-process worker polls (runs on any other one wait for a worker). */
export async function startInProcessStack(workerQueue: string, devServer: DevServerOptions = {}): Promise<InProcessStack> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'da-in-process-'));
  const [dev, model, sink] = await Promise.all([startDevServer(devServer), startModelServer(), startSinkServer()]);
  const configFor = (queue: string): Config =>
    buildConfig(parseArgs(['serve', '--no-service']), {
      TEMPORAL_ADDRESS: dev.address,
      OPENAI_BASE_URL: model.baseUrl,
      OPENAI_API_KEY: 'test-key',
      DURABLE_AGENT_MODEL: 'test-model',
      DURABLE_AGENT_TASK_QUEUE: queue,
      DURABLE_AGENT_HOME: home,
      DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1', // the sink is on loopback, which http_request refuses by default
    });
  const temporal = await connectTemporal(configFor(workerQueue));
  const worker: RunningWorker = await startWorker(configFor(workerQueue), temporal);
  return {
    dev,
    model,
    sink,
    temporal,
    configFor,
    service: (queue) => new RunService(configFor(queue), () => Promise.resolve(temporal)),
    async close() {
      await worker.shutdown();
      await temporal.close();
      await Promise.all([dev.stop(), model.close(), sink.close()]);
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
