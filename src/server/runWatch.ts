// One watcher per run, however many listen to it: task notifications, resource subscriptions and
// legacy status notifications all hear of a run's changes from here. A watcher reads the run's status
// (from Temporal, like every tool) twice a second while anyone listens, and stops when nobody does or
// the run has closed; nothing is polled for a run nobody watches.
import { isClosedStatus, type RunStatus } from '../shared/contract.js';
import type { Caller } from './principal.js';
import type { Runs } from './runs.js';
import { UnknownRunError } from './toolResult.js';

/** How often a watched run is looked at: a change reaches its listeners within this (plus a read). */
export const WATCH_INTERVAL_MS = 500;

type Listener = (run: RunStatus) => void;

interface Watcher {
  caller: Caller;
  listeners: Map<Listener, { lastKey: string | undefined }>;
  stopped: boolean;
}

/** What makes two looks at a run different enough to tell someone. */
export function changeKeyOf(run: RunStatus): string {
  return [
    run.status,
    run.step,
    run.pendingApprovals.map((a) => a.approvalId).join(','),
    run.usage.llmCalls,
    run.usage.toolCalls,
    run.closedAt ?? '',
    run.children?.map((c) => `${c.runId}:${c.status}`).join(',') ?? '',
  ].join('|');
}

export class RunWatchers {
  private readonly watchers = new Map<string, Watcher>();

  constructor(
    private readonly runs: Runs,
    private readonly intervalMs = WATCH_INTERVAL_MS,
  ) {}

  /** Active watchers (one per watched run), for tests and the benchmark. */
  get size(): number {
    return this.watchers.size;
  }

  /**
   * Calls `listener` with the run whenever it changes (and with its first look unless `initial` is
   * false). Returns the way to stop listening.
   */
  watch(runId: string, caller: Caller, listener: Listener, initial = true): () => void {
    const key = `${caller.principal}\n${runId}`;
    let watcher = this.watchers.get(key);
    const fresh = !watcher;
    if (!watcher) {
      watcher = { caller, listeners: new Map(), stopped: false };
      this.watchers.set(key, watcher);
    }
    watcher.listeners.set(listener, { lastKey: initial ? undefined : '' });
    if (fresh) void this.loop(key, runId, watcher);
    const w = watcher;
    return () => {
      w.listeners.delete(listener);
      if (w.listeners.size === 0) this.stop(key, w);
    };
  }

  private stop(key: string, watcher: Watcher): void {
    watcher.stopped = true;
    if (this.watchers.get(key) === watcher) this.watchers.delete(key);
  }

  private async loop(key: string, runId: string, watcher: Watcher): Promise<void> {
    while (!watcher.stopped && !this.runs.isStopping()) {
      let run: RunStatus | undefined;
      try {
        run = await this.runs.status(runId, watcher.caller);
      } catch (err) {
        if (err instanceof UnknownRunError) break;
        // Temporal busy or restarting: look again next time.
      }
      if (run && !watcher.stopped) {
        const seen = changeKeyOf(run);
        for (const [listener, state] of [...watcher.listeners]) {
          if (state.lastKey === seen) continue;
          // A listener added without its first look takes this one as its baseline.
          const baseline = state.lastKey === '';
          state.lastKey = seen;
          if (!baseline) listener(run);
        }
        if (isClosedStatus(run.status)) break;
      }
      await new Promise((resolve) => setTimeout(resolve, this.intervalMs).unref());
    }
    this.stop(key, watcher);
  }
}

const perRuns = new WeakMap<Runs, RunWatchers>();

/** The process's watchers over `runs` (every server instance of the process shares them). */
export function watchersFor(runs: Runs): RunWatchers {
  let watchers = perRuns.get(runs);
  if (!watchers) perRuns.set(runs, (watchers = new RunWatchers(runs)));
  return watchers;
}
