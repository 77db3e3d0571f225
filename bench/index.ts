// `npm run bench`: runs the benchmarks, prints a table and writes bench/results.json.
// Timing goals are not asserted anywhere; this is the evidence (see BENCHMARKS.md when present).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../test/support/mcpStdio.js';
import { runLoad } from './load.js';

const machine = { cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.arch()}` };
const load = await runLoad();

const rows: Array<[string, string]> = [
  ['machine', `${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}`],
  ['load: runs', `${load.completed}/${load.runs} completed, ${load.lost} lost, ${load.duplicates} duplicated (${load.clients} HTTP clients)`],
  ['load: throughput', `${load.runsPerSecond.toFixed(1)} runs/s (${load.seconds.toFixed(1)} s)`],
  ...Object.entries(load.latencyMs).map(([tool, l]): [string, string] => [
    `load: ${tool}`,
    `p50 ${l.p50.toFixed(0)} ms, p95 ${l.p95.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms (n=${l.n})`,
  ]),
];
const width = Math.max(...rows.map(([k]) => k.length));
process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')}\n`);
const out = path.join(repoRoot, 'bench', 'results.json');
fs.writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), machine, load }, null, 2)}\n`);
process.stderr.write(`results written to ${out}\n`);
if (load.completed !== load.runs || load.duplicates > 0 || load.lost > 0) process.exitCode = 1;
