#!/usr/bin/env node
// Entry point: `durable-agent-mcp [serve|worker] [flags]`.
import { readFileSync } from 'node:fs';
import { buildConfig, ConfigError, helpText, parseArgs, type Config, type ParsedArgs } from './config.js';
import { log, setLogLevel } from './log.js';
import { readTokensFile } from './server/tokens.js';
import { DevServerError, findTemporalCli } from './temporal/devServer.js';
import type { TemporalHandle } from './temporal/connect.js';
import type { RunningWorker } from './worker/worker.js';

// Temporal's native bridge and the MCP SDK load in about a second; --help and config errors
// should not wait for them, so they are imported only once we know we will serve.
const loadServing = async () => {
  const [createServerModule, httpModule, runServiceModule, stdioModule, connectModule, workerModule, serviceModule] = await Promise.all([
    import('./server/createServer.js'),
    import('./server/http.js'),
    import('./server/runService.js'),
    import('./server/stdio.js'),
    import('./temporal/connect.js'),
    import('./worker/worker.js'),
    import('./service/service.js'),
  ]);
  return {
    createServer: createServerModule.createServer,
    serveHttp: httpModule.serveHttp,
    RunService: runServiceModule.RunService,
    serveStdio: stdioModule.serveStdio,
    connectTemporal: connectModule.connectTemporal,
    startWorker: workerModule.startWorker,
    service: serviceModule,
  };
};

/** How long a tool waits for a Temporal this process (or its service) is still starting. */
const STARTING_WAIT_MS = 45_000;

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

async function main(): Promise<void> {
  let config: Config;
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(process.argv.slice(2));
    if (parsed.command === 'help') return void process.stdout.write(helpText(pkg.version)); // stdout-ok: not serving
    if (parsed.command === 'version') return void process.stdout.write(`${pkg.version}\n`); // stdout-ok: not serving
    config = buildConfig(parsed);
    const needsCli = !config.temporalAddress && !(config.command === 'service' && config.serviceAction !== 'start' && config.serviceAction !== 'run');
    if (needsCli) findTemporalCli(config.temporalCliPath);
    if (config.transport === 'http' && config.tokensFile) readTokensFile(config.tokensFile, config.token);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DevServerError) {
      process.stderr.write(`durable-agent-mcp: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  setLogLevel(config.logLevel);
  if (config.command === 'worker') await runWorkerOnly(config);
  else if (config.command === 'service') await serviceCommand(config, parsed);
  else if (config.transport === 'stdio' && !config.noService && !(config.temporalAddress && config.noWorker)) {
    await serveFront(config, parsed);
  } else await serve(config);
}

/** `service start|stop|status|logs|run`. Not serving MCP, so stdout is for the person. */
async function serviceCommand(config: Config, parsed: ParsedArgs): Promise<void> {
  const { service } = await loadServing();
  switch (config.serviceAction) {
    case 'run':
      return service.runService(config);
    case 'start': {
      await service.ensureService(config, parsed.values);
      process.stdout.write((await service.describeService(config.dataDir)).text); // stdout-ok: CLI output
      return process.exit(0);
    }
    case 'stop': {
      const was = await service.stopService(config.dataDir);
      process.stdout.write(was ? 'service: stopped\n' : 'service: was not running\n'); // stdout-ok: CLI output
      return process.exit(0);
    }
    case 'status': {
      const { running, text } = await service.describeService(config.dataDir);
      process.stdout.write(text); // stdout-ok: CLI output
      return process.exit(running ? 0 : 3);
    }
    case 'logs':
      process.stdout.write(service.serviceLogTail(config.dataDir)); // stdout-ok: CLI output
      return process.exit(0);
    default:
      throw new ConfigError('`service` needs an action: start, stop, status or logs');
  }
}

/**
 * The default stdio mode: a thin MCP front. The data dir's background service holds Temporal and
 * the worker, so runs keep going after the client quits; the front exits as soon as stdin closes.
 */
async function serveFront(config: Config, parsed: ParsedArgs): Promise<void> {
  const { createServer, RunService, serveStdio, connectTemporal, service } = await loadServing();
  const unregister = service.registerFront(config.dataDir);
  let connection: TemporalHandle | undefined;
  const connect = async (): Promise<TemporalHandle> => {
    const state = await service.ensureService(config, parsed.values);
    // The front never owns the dev server: it talks to the address the service recorded.
    connection = await connectTemporal({ ...config, temporalAddress: config.temporalAddress ?? state.temporalAddress });
    return connection;
  };
  const temporal = lazyTemporal(config, connect);
  // Start (or find) the service now so the first tool call does not wait for it.
  temporal.get().catch((err: unknown) => log.error('could not reach the background service', { error: message(err) }));
  // If the service dies while this front is attached (killed, crashed), start a new one so runs resume.
  const watchdog = setInterval(() => {
    if (connection && !service.readServiceState(config.dataDir)) {
      service.ensureService(config, parsed.values).catch((err: unknown) =>
        log.error('could not restart the background service', { error: message(err) }),
      );
    }
  }, 5_000);
  watchdog.unref();
  const runs = new RunService(config, () => temporal.get(), STARTING_WAIT_MS);
  const stdio = serveStdio(() => createServer(runs, pkg.version));
  const reason = await Promise.race([
    stdio.closed.then(() => 'client closed'),
    new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    }),
  ]);
  log.info('front exiting; the background service keeps the runs going', { reason });
  clearInterval(watchdog);
  unregister();
  // Exit promptly: nothing here owns durable state.
  setTimeout(() => process.exit(0), 1_000).unref();
  await stdio.close().catch(() => undefined);
  await connection?.connection.close().catch(() => undefined);
  process.exit(0);
}

/** Shared, retrying connection: a Temporal outage makes tools answer with errors, not the server exit. */
function lazyTemporal(
  config: Config,
  connectTemporal: (config: Config) => Promise<TemporalHandle>,
): { get(): Promise<TemporalHandle>; current(): Promise<TemporalHandle> | undefined } {
  let pending: Promise<TemporalHandle> | undefined;
  return {
    get() {
      if (!pending) {
        pending = connectTemporal(config);
        pending.catch(() => {
          pending = undefined;
        });
      }
      return pending;
    },
    current: () => pending,
  };
}

async function serve(config: Config): Promise<void> {
  const { createServer, serveHttp, RunService, serveStdio, connectTemporal, startWorker } = await loadServing();
  const temporal = lazyTemporal(config, connectTemporal);
  const runs = new RunService(config, () => temporal.get(), config.temporalAddress ? 5_000 : STARTING_WAIT_MS);
  let worker: RunningWorker | undefined;

  let closeTransport: () => Promise<void>;
  let stopped: Promise<void>;
  if (config.transport === 'http') {
    // Bind before Temporal and the worker start, so a taken port starts nothing (no dev server).
    const http = await serveHttp(() => createServer(runs, pkg.version), runs, {
      host: config.host,
      port: config.port,
      allowedOrigins: config.allowedOrigins,
      maxSessions: config.maxSessions,
      sessionIdleTimeoutSeconds: config.sessionIdleTimeoutSeconds,
      ...(config.token ? { token: config.token } : {}),
      ...(config.tokensFile ? { tokensFile: config.tokensFile } : {}),
    }).catch((err: unknown) => {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`durable-agent-mcp: ${err.message}\n`);
      process.exit(2);
    });
    closeTransport = () => http.close();
    stopped = new Promise(() => undefined);
  } else {
    const stdio = serveStdio(() => createServer(runs, pkg.version));
    closeTransport = () => stdio.close();
    stopped = stdio.closed;
  }

  const workerReady = config.noWorker
    ? Promise.resolve()
    : temporal
        .get()
        .then(async (t) => {
          worker = await startWorker(config, t);
        })
        .catch((err: unknown) => log.error('could not start the worker', { error: message(err) }));

  await shutdownOn(stopped, async () => {
    await closeTransport().catch(() => undefined);
    // Still waiting for an unreachable Temporal: nothing to drain or close, so do not wait for it.
    const connected = await Promise.race([
      workerReady.then(() => temporal.current()?.then(() => true, () => false) ?? false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000).unref()),
    ]);
    if (!connected) return;
    await worker?.shutdown();
    const t = await temporal.current()?.catch(() => undefined);
    await t?.close();
  });
}

async function runWorkerOnly(config: Config): Promise<void> {
  const { connectTemporal, startWorker } = await loadServing();
  const temporal = await connectTemporal(config);
  const worker = await startWorker(config, temporal);
  await shutdownOn(worker.done, async () => {
    await worker.shutdown();
    await temporal.close();
  });
}

/** Runs `cleanup` once on the first of: `until` settling, SIGINT, SIGTERM; then exits. */
async function shutdownOn(until: Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  const signal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const reason = await Promise.race([until.then(() => 'client closed'), signal]);
  log.info('shutting down', { reason });
  const force = setTimeout(() => process.exit(1), 30_000);
  force.unref();
  await cleanup().catch((err: unknown) => log.error('error during shutdown', { error: message(err) }));
  process.exit(0);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

main().catch((err: unknown) => {
  process.stderr.write(`durable-agent-mcp: ${message(err)}\n`);
  process.exit(1);
});
