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

export class AllocationCounters {
  private readonly hours = new Map<number, HourCounts>();

  record(outcome: Outcome, nowMs: number): void {
    const start = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
    let counts = this.hours.get(start);
    if (!counts) {
      counts = { hour: new Date(start).toISOString(), byRule: {}, byHub: {}, denied: 0, invalid: 0, unavailable: 0 };
      this.hours.set(start, counts);
      for (const h of this.hours.keys()) if (h <= start - KEEP_HOURS * HOUR_MS) this.hours.delete(h);
    }
    if (outcome.kind === 'allocate') {
      counts.byRule[outcome.rule] = (counts.byRule[outcome.rule] ?? 0) + 1;
      const hub = outcome.response.iotHubHostName;
      counts.byHub[hub] = (counts.byHub[hub] ?? 0) + 1;
    } else if (outcome.kind === 'deny') counts.denied++;
    else if (outcome.kind === 'invalid') counts.invalid++;
    else counts.unavailable++;
  }

  /** The last 24 hours, oldest first, the current one last; an hour with nothing decided counts zeros. */
  lastDay(nowMs: number): HourCounts[] {
    const current = Math.floor(nowMs / HOUR_MS) * HOUR_MS;
    return Array.from({ length: KEEP_HOURS }, (_, i) => {
      const start = current - (KEEP_HOURS - 1 - i) * HOUR_MS;
      const counts = this.hours.get(start);
      return counts
        ? structuredClone(counts)
        : { hour: new Date(start).toISOString(), byRule: {}, byHub: {}, denied: 0, invalid: 0, unavailable: 0 };
    });
  }
}
