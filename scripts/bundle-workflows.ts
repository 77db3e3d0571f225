// Bundles the workflow code once at build time, so workers never run webpack at start-up.
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_BUNDLE, WORKFLOWS_PATH } from '../src/worker/worker.js';

const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
writeFileSync(PREBUILT_BUNDLE, code);
process.stderr.write(`workflow bundle written to ${PREBUILT_BUNDLE} (${code.length} bytes)\n`);
