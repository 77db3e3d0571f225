// What the MCP side asks of runs. The run service behind it (and Temporal's client with it) is
// loaded on first use, so a server answers `server/discover`, `initialize` and `tools/list` before
// anything Temporal is loaded; the first tool call waits for it.
import type { RunService } from './runService.js';

export type Runs = Pick<
  RunService,
  'start' | 'status' | 'approve' | 'decide' | 'cancel' | 'list' | 'result' | 'sendMessage' | 'history' | 'health' | 'retentionMs'
> & {
  /** Shutdown: end the waits of get_run_result now (nothing to end if the service never loaded). */
  endWaits(): void;
  /** Starts loading the run service now, ahead of the first tool call. */
  warm(): void;
  /** True once shutdown began (long waits end). */
  isStopping(): boolean;
};

export function deferredRuns(load: () => Promise<RunService>): Runs {
  let loaded: RunService | undefined;
  let loading: Promise<RunService> | undefined;
  const get = (): Promise<RunService> => {
    if (loaded) return Promise.resolve(loaded);
    loading ??= load().then(
      (service) => (loaded = service),
      (err: unknown) => {
        loading = undefined; // a failed load is tried again by the next call
        throw err;
      },
    );
    return loading;
  };
  return {
    start: async (...args) => (await get()).start(...args),
    status: async (...args) => (await get()).status(...args),
    approve: async (...args) => (await get()).approve(...args),
    decide: async (...args) => (await get()).decide(...args),
    cancel: async (...args) => (await get()).cancel(...args),
    list: async (...args) => (await get()).list(...args),
    result: async (...args) => (await get()).result(...args),
    sendMessage: async (...args) => (await get()).sendMessage(...args),
    history: async (...args) => (await get()).history(...args),
    health: async () => (await get()).health(),
    retentionMs: async () => (await get()).retentionMs(),
    endWaits: () => loaded?.endWaits(),
    isStopping: () => loaded?.isStopping() ?? false,
    warm: () => void get().catch(() => undefined),
  };
}
