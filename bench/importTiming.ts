// Where a stdio front's first answer goes before it can answer: Node's own start, then the modules
// the front loads, in its order (cli.ts's static imports pull in zod; loadMcp then the MCP SDK and
// our tools). Each sample is a fresh Node process; steps are cumulative, so a module already loaded
// by an earlier step costs nothing again (the SDK's own zod import is counted under zod).
//
//   node dist/bench/importTiming.js [samples]     prints the medians (figure 7 reports them too)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The child runs this very file: nothing here may import more than Node's built-ins, or the child
// would load it before its first measurement.
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round((sorted[Math.floor(sorted.length / 2)] ?? 0) * 10) / 10;
};

const own = (file: string) => new URL(`../src/${file}`, import.meta.url).href;

/** The front's imports before its first answer, grouped into steps, in the order it loads them. */
export const IMPORT_STEPS: Array<[step: string, specifiers: string[]]> = [
  ['zod', ['zod']],
  ['MCP SDK (@modelcontextprotocol/server, its core, its Ajv validator)', ['@modelcontextprotocol/server']],
  ['MCP SDK stdio entry', ['@modelcontextprotocol/server/stdio']],
  [
    'our modules (config, service control, tools)',
    ['config.js', 'log.js', 'server/tokens.js', 'temporal/devServer.js', 'service/control.js', 'server/createServer.js', 'server/stdio.js', 'server/runs.js'].map(own),
  ],
];

export interface ImportTiming {
  samples: number;
  /** Process start → the first line of a script (Node's own start and its ESM loader). */
  nodeStartMs: number;
  /** Median time of each step, loaded after the previous ones. */
  stepsMs: Record<string, number>;
  /** Process start → everything above loaded. */
  totalMs: number;
}

async function child(): Promise<void> {
  const nodeStart = performance.now(); // milliseconds since this process started
  const steps: Record<string, number> = {};
  for (const [step, specifiers] of IMPORT_STEPS) {
    const t = performance.now();
    for (const specifier of specifiers) await import(specifier);
    steps[step] = performance.now() - t;
  }
  process.stdout.write(JSON.stringify({ nodeStart, steps, total: performance.now() })); // stdout-ok: read by the parent
}

interface ChildTiming {
  nodeStart: number;
  steps: Record<string, number>;
  total: number;
}

function once(): Promise<ChildTiming> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    proc.once('error', reject);
    proc.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`import timing child exited with ${code}`));
      try {
        resolve(JSON.parse(out) as ChildTiming);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

export async function measureImports(samples = 10): Promise<ImportTiming> {
  const runs: ChildTiming[] = [];
  for (let i = 0; i < samples; i++) runs.push(await once());
  return {
    samples,
    nodeStartMs: median(runs.map((r) => r.nodeStart)),
    stepsMs: Object.fromEntries(IMPORT_STEPS.map(([step]) => [step, median(runs.map((r) => r.steps[step] ?? 0))])),
    totalMs: median(runs.map((r) => r.total)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === '--child') await child();
  else {
    const r = await measureImports(Number(process.argv[2] ?? 10) || 10);
    const lines = [`node start: ${r.nodeStartMs} ms`, ...Object.entries(r.stepsMs).map(([step, v]) => `${step}: ${v} ms`), `total (process start → all loaded): ${r.totalMs} ms (median of ${r.samples})`];
    process.stdout.write(`${lines.join('\n')}\n`); // stdout-ok: a developer's tool
  }
}
