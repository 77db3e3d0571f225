/**
 * The environment of a CLI under test: the test's dev server, scripted model, data dir and task queue,
 * with everything from the developer's shell that would change what is tested pinned or removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cliPath } from './mcpStdio.js';
import { freePort } from './temporal.js';
import { waitFor } from './wait.js';

export interface ServerEnvOptions {
  temporalAddress: string;
  modelUrl: string;
  home: string;
  taskQueue: string;
}

export function serverEnv(opts: ServerEnvOptions, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    TEMPORAL_ADDRESS: opts.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    TEMPORAL_API_KEY: undefined,
    TEMPORAL_PROFILE: undefined,
    TEMPORAL_TLS: undefined,
    OPENAI_BASE_URL: opts.modelUrl,
    OPENAI_API_KEY: 'test-key',
    DURABLE_AGENT_MODEL: 'test-model',
    DURABLE_AGENT_HOME: opts.home,
    DURABLE_AGENT_TASK_QUEUE: opts.taskQueue,
    // Loopback opened because the sink is there.
    DURABLE_AGENT_HTTP_ALLOW: '127.0.0.1',
    DURABLE_AGENT_HTTP_DENY: undefined,
    DURABLE_AGENT_TOKEN: undefined,
    DURABLE_AGENT_TOKENS_FILE: undefined,
    DURABLE_AGENT_NO_ELICITATION: undefined,
    ...extra,
  };
}

/** The built CLI with `args`, in process.env overlaid with `env` (an undefined value removes a variable). */
export function spawnCli(args: string[], env: Record<string, string | undefined>, onStderr?: (text: string) => void): ChildProcess {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  const child = spawn(process.execPath, [cliPath, ...args], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  if (onStderr) child.stderr?.on('data', (c: Buffer) => onStderr(c.toString()));
  return child;
}

/** `serve --transport http` on a free port, once /healthz sees Temporal and a polling worker. */
export async function startHttpCli(env: Record<string, string | undefined>, onStderr?: (text: string) => void): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawnCli(['serve', '--transport', 'http', '--port', String(port)], env, onStderr);
  await waitFor(
    '/healthz to see Temporal and a polling worker',
    async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return res?.status === 200 && ((await res.json()) as { worker: string }).worker === 'polling';
    },
    60_000,
  );
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}
