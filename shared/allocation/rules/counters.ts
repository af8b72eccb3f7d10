/**
 * What one webhook instance decided, hour by hour, for the last day: allocations per rule and per hub, refusals of
 * the deny list, malformed calls and 503s. Constant memory (24 hours × the rules and hubs in use), updated in O(1)
 * on the hot path. Fleet-wide figures are Azure Monitor's (metrics); this is the one process's own account.
 */
import type { Outcome } from './engine';

const HOUR_MS = 3_600_000;
const KEEP_HOURS = 24;

export interface HourCounts {
  /** The hour's start, ISO. */
  hour: string;
  byRule: Record<string, number>;
  byHub: Record<string, number>;
  denied: number;
  invalid: number;
  unavailable: number;
}

/** The starts of the last 24 hours up to `nowMs` (ISO, oldest first, the current hour last). */
export function lastDayHours(nowMs: number): string[] {
  const current = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
  return Array.from({ length: KEEP_HOURS }, (_, i) => new Date(current - (KEEP_HOURS - 1 - i) * HOUR_MS).toISOString());
}

/** Empty counts for the hour starting at `hour` (ISO). */
const emptyHour = (hour: string): HourCounts => ({
  hour,
  byRule: {},
  byHub: {},
  denied: 0,
  invalid: 0,
  unavailable: 0,
});

const add = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, n] of Object.entries(from)) into[k] = (into[k] ?? 0) + n;
};

/** Several instances' counts summed hour by hour, over the 24 hours up to `nowMs` (oldest first). */
export function sumHours(counts: readonly HourCounts[], nowMs: number): HourCounts[] {
  const hours = lastDayHours(nowMs).map(emptyHour);
  const byHour = new Map(hours.map((h) => [h.hour, h]));
  for (const c of counts) {
    const h = byHour.get(c.hour);
    if (!h) continue;
    add(h.byRule, c.byRule);
    add(h.byHub, c.byHub);
    h.denied += c.denied;
    h.invalid += c.invalid;
    h.unavailable += c.unavailable;
  }
  return hours;
}

export class AllocationCounters {
  private readonly hours = new Map<number, HourCounts>();
  /** Hours changed since `takeChanged` last ran: what an instance writes to the shared store. */
  private readonly changed = new Set<number>();

  record(outcome: Outcome, nowMs: number): void {
    const start = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
    let counts = this.hours.get(start);
    if (!counts) {
      counts = emptyHour(new Date(start).toISOString());
      this.hours.set(start, counts);
      for (const h of this.hours.keys()) if (h <= start - KEEP_HOURS * HOUR_MS) this.hours.delete(h);
    }
    this.changed.add(start);
    if (outcome.kind === 'allocate') {
      counts.byRule[outcome.rule] = (counts.byRule[outcome.rule] ?? 0) + 1;
      const hub = outcome.response.iotHubHostName;
      counts.byHub[hub] = (counts.byHub[hub] ?? 0) + 1;
    } else if (outcome.kind === 'deny') counts.denied++;
    else if (outcome.kind === 'invalid') counts.invalid++;
    else counts.unavailable++;
  }

  /** The whole counts of every hour changed since the last call (each instance's documents are its own). */
  takeChanged(): HourCounts[] {
    const hours = [...this.changed].flatMap((start) => {
      const counts = this.hours.get(start);
      return counts ? [structuredClone(counts)] : [];
    });
    this.changed.clear();
    return hours;
  }
}
