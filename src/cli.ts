#!/usr/bin/env node
// Entry point: `durable-agent-mcp [serve|worker] [flags]`.
import { readFileSync } from 'node:fs';
import { buildConfig, ConfigError, helpText, parseArgs, type Config, type ParsedArgs } from './config.js';
import { log, setLogLevel } from './log.js';
import { readTokensFile } from './server/tokens.js';
import { DevServerError, findTemporalCli } from './temporal/devServer.js';
import type { TemporalHandle } from './temporal/connect.js';
import type { RunningWorker } from './worker/worker.js';
import * as serviceControl from './service/control.js';

// Nothing heavy is imported up front: --help and config errors answer at once, the MCP side
// (the SDK, the tools) loads next and answers the client's first request, and Temporal (its native
// bridge takes most of a second to load) is loaded only after that, in the background.
const loadMcp = async () => {
  const [createServerModule, stdioModule, runsModule] = await Promise.all([
    import('./server/createServer.js'),
    import('./server/stdio.js'),
    import('./server/runs.js'),
  ]);
  return { createServer: createServerModule.createServer, serveStdio: stdioModule.serveStdio, deferredRuns: runsModule.deferredRuns };
};
const loadRunService = async () => (await import('./server/runService.js')).RunService;
const loadConnect = async () => (await import('./temporal/connect.js')).connectTemporal;
const loadWorker = async () => (await import('./worker/worker.js')).startWorker;

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
  const service = serviceControl;
  switch (config.serviceAction) {
    case 'run':
      return (await import('./service/service.js')).runService(config);
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
  const { createServer, serveStdio, deferredRuns } = await loadMcp();
  const unregister = serviceControl.registerFront(config.dataDir);
  let connection: TemporalHandle | undefined;
  const temporal = lazyTemporal(async () => {
    const [state, connectTemporal] = await Promise.all([serviceControl.ensureService(config, parsed.values), loadConnect()]);
    // The front never owns the dev server: it talks to the address the service recorded.
    connection = await connectTemporal({ ...config, temporalAddress: config.temporalAddress ?? state.temporalAddress });
    return connection;
  });
  // If the service dies while this front is attached (killed, crashed), start a new one so runs resume.
  const watchdog = setInterval(() => {
    if (connection && !serviceControl.readServiceState(config.dataDir)) {
      serviceControl.ensureService(config, parsed.values).catch((err: unknown) =>
        log.error('could not restart the background service', { error: message(err) }),
      );
    }
  }, 5_000);
  watchdog.unref();
  const runs = deferredRuns(async () => new (await loadRunService())(config, () => temporal.get(), STARTING_WAIT_MS));
  // The service (found, or started: it takes seconds) and the connection to it, once the client has
  // its first answer: a service starting earlier competes for the CPU with that answer (bench figure 7).
  const serverOptions = { inlineApprovals: !config.noElicitation };
  const stdio = serveStdio(
    () => createServer(runs, pkg.version, serverOptions),
    () => {
      runs.warm();
      temporal.get().catch((err: unknown) => log.error('could not reach the background service', { error: message(err) }));
    },
    { runs, ...serverOptions },
  );
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
function lazyTemporal(connect: () => Promise<TemporalHandle>): { get(): Promise<TemporalHandle>; current(): Promise<TemporalHandle> | undefined } {
  let pending: Promise<TemporalHandle> | undefined;
  return {
    get() {
      if (!pending) {
        pending = connect();
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
  const { createServer, serveStdio, deferredRuns } = await loadMcp();
  const temporal = lazyTemporal(async () => (await loadConnect())(config));
  const runs = deferredRuns(async () => new (await loadRunService())(config, () => temporal.get(), config.temporalAddress ? 5_000 : STARTING_WAIT_MS));
  const serverOptions = { inlineApprovals: !config.noElicitation };
  let worker: RunningWorker | undefined;
  let workerReady: Promise<void> = Promise.resolve();
  let warmed = false;
  // Temporal, the run service and the worker: loaded once the transport is up (stdio: once the
  // client has its first answer), so they never delay it.
  const warm = () => {
    if (warmed) return;
    warmed = true;
    runs.warm();
    if (config.noWorker) return;
    workerReady = Promise.all([temporal.get(), loadWorker()])
      .then(async ([t, startWorker]) => {
        worker = await startWorker(config, t);
      })
      .catch((err: unknown) => log.error('could not start the worker', { error: message(err) }));
  };

  let closeTransport: () => Promise<void>;
  let stopped: Promise<void>;
  if (config.transport === 'http') {
    // Bind before Temporal and the worker start, so a taken port starts nothing (no dev server).
    const { serveHttp } = await import('./server/http.js');
    const http = await serveHttp(() => createServer(runs, pkg.version, serverOptions), runs, {
      ...serverOptions,
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
    warm();
  } else {
    const stdio = serveStdio(() => createServer(runs, pkg.version, serverOptions), warm, { runs, ...serverOptions });
    closeTransport = () => stdio.close();
    stopped = stdio.closed;
  }

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
  const [connectTemporal, startWorker] = await Promise.all([loadConnect(), loadWorker()]);
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
