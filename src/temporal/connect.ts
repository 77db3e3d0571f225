// One connection to Temporal per process: to TEMPORAL_ADDRESS (with the standard TEMPORAL_* env
// and profiles via envconfig) or to the data dir's embedded dev server.
import { Client } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config.js';
import { log } from '../log.js';
import { acquireDevServer, type DevServerLease } from './devServer.js';
import { installTemporalRuntime } from './runtime.js';

export interface TemporalHandle {
  connection: NativeConnection;
  client: Client;
  namespace: string;
  address: string;
  devServer?: DevServerLease;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 30_000;
/** How often a process holding the embedded dev server checks that it still runs. */
const DEV_SERVER_CHECK_MS = 2_000;

export async function connectTemporal(config: Config): Promise<TemporalHandle> {
  installTemporalRuntime(config);
  let options: NativeConnectionOptions;
  let namespace: string;
  let devServer: DevServerLease | undefined;
  if (config.temporalAddress) {
    const env: Record<string, string> = {};
    // An empty variable counts as unset (an MCP Bundle passes empty strings for blank optional fields).
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && v !== '') env[k] = v;
    env.TEMPORAL_ADDRESS = config.temporalAddress;
    const loaded = loadClientConnectConfig({ overrideEnvVars: env });
    options = loaded.connectionOptions;
    namespace = loaded.namespace ?? 'default';
  } else {
    devServer = await acquireDevServer(config.dataDir, config.temporalCliPath);
    options = { address: devServer.state.address };
    namespace = 'default';
  }
  const address = options.address ?? 'localhost:7233';
  const connection = await connectWithRetry(options, address);
  const client = new Client({ connection, namespace });
  // The dev server is a separate process: if it dies, start it again on the same address and
  // SQLite file; this connection, the worker's polls and every run then carry on.
  const supervisor = devServer ? superviseDevServer(devServer) : undefined;
  return {
    connection,
    client,
    namespace,
    address,
    ...(devServer ? { devServer } : {}),
    async close() {
      if (supervisor) clearInterval(supervisor);
      await connection.close().catch(() => undefined);
      await devServer?.release();
    },
  };
}

async function connectWithRetry(options: NativeConnectionOptions, address: string): Promise<NativeConnection> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await NativeConnection.connect(options);
    } catch (err) {
      if (Date.now() > deadline) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`cannot connect to Temporal at ${address}: ${why}`);
      }
      if (attempt === 1) log.info('waiting for Temporal', { address });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function superviseDevServer(lease: DevServerLease): NodeJS.Timeout {
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    lease
      .revive()
      .catch((err: unknown) => log.error('could not restart the embedded Temporal dev server', { error: err instanceof Error ? err.message : String(err) }))
      .finally(() => (checking = false));
  }, DEV_SERVER_CHECK_MS);
  timer.unref();
  return timer;
}
