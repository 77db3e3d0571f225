export { agentWorkflow } from './agentWorkflow.js';
