// Formatting of run data for people: durations, clock times, token counts, short JSON.

export function elapsed(fromIso: string, toIso: string | undefined, now: number): string {
  const start = Date.parse(fromIso);
  const end = toIso ? Date.parse(toIso) : now;
  if (Number.isNaN(start) || Number.isNaN(end)) return '–';
  let s = Math.max(0, Math.round((end - start) / 1000));
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  if (d > 0) return `${d}d ${hh}h`;
  if (hh > 0) return `${hh}h ${mm}m`;
  if (mm > 0) return `${mm}m ${s}s`;
  return `${s}s`;
}

export function clock(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function dateTime(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : t.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'short' });
}

export function count(n: number): string {
  return n >= 10_000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : String(n);
}

export function json(value: unknown): string {
  if (value === undefined) return '';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return '(not showable)'; // e.g. a cycle; tool arguments arrive as JSON, so this is theoretical
  }
}

export function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export const STATUS_LABEL: Record<string, string> = {
  running: 'Running',
  waiting_for_approval: 'Waiting for approval',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
};

export function isOpen(status: string): boolean {
  return status === 'running' || status === 'waiting_for_approval';
}
