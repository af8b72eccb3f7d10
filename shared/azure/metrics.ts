/**
 * MetricsPort on the OpenTelemetry API: instruments of the meter `dps-lifecycle`, exported to Azure Monitor when the
 * function app starts its exporter (monitor.ts). Their names are the ones the Bicep workbook queries
 * (infra/modules/workbook.bicep); a test keeps both in step.
 */
import { type Counter, type Gauge, type Histogram, metrics } from '@opentelemetry/api';

import type { MetricsPort } from '../ports';

export const METRIC_NAMES = {
  allocations: 'dpsl.allocations',
  webhookLatency: 'dpsl.webhook.latency',
  importRows: 'dpsl.import.rows',
  throttled: 'dpsl.throttled',
  incidentDone: 'dpsl.incident.done',
  incidentTotal: 'dpsl.incident.total',
} as const;

interface Instruments {
  allocations: Counter;
  latency: Histogram;
  importRows: Counter;
  throttled: Counter;
  incidentDone: Gauge;
  incidentTotal: Gauge;
}

let instruments: Instruments | undefined;

/**
 * The instruments, made from the global meter provider on first use. The OpenTelemetry API hands out no-op
 * instruments until a provider is registered, and does not upgrade them afterwards: whoever registers one calls
 * `instrumentsFromProviderNow()`.
 */
function use(): Instruments {
  if (instruments) return instruments;
  const meter = metrics.getMeter('dps-lifecycle');
  instruments = {
    allocations: meter.createCounter(METRIC_NAMES.allocations, {
      description: 'webhook decisions by outcome, rule and hub',
    }),
    latency: meter.createHistogram(METRIC_NAMES.webhookLatency, { description: 'webhook decision time', unit: 'ms' }),
    importRows: meter.createCounter(METRIC_NAMES.importRows, { description: 'import rows settled in DPS' }),
    throttled: meter.createCounter(METRIC_NAMES.throttled, { description: '429s met, by service' }),
    incidentDone: meter.createGauge(METRIC_NAMES.incidentDone, { description: 'items done of an incident step' }),
    incidentTotal: meter.createGauge(METRIC_NAMES.incidentTotal, { description: 'items of an incident step' }),
  };
  return instruments;
}

export function instrumentsFromProviderNow(): void {
  instruments = undefined;
}

/** A 429 met by an adapter: `dps`, `iothub` or `cosmos`. */
export function countThrottle(service: 'dps' | 'iothub' | 'cosmos'): void {
  use().throttled.add(1, { service });
}

export class OtelMetrics implements MetricsPort {
  allocation(d: { outcome: string; rule?: string; hub?: string; latencyMs: number }): void {
    const { allocations, latency } = use();
    allocations.add(1, { outcome: d.outcome, ...(d.rule ? { rule: d.rule } : {}), ...(d.hub ? { hub: d.hub } : {}) });
    latency.record(d.latencyMs, { outcome: d.outcome });
  }

  importRows(manufacturerId: string, status: 'enrolled' | 'alreadyEnrolled' | 'failed', rows: number): void {
    if (rows > 0) use().importRows.add(rows, { manufacturer: manufacturerId, status });
  }

  incidentProgress(incidentId: string, step: string, done: number, total: number): void {
    const { incidentDone, incidentTotal } = use();
    incidentDone.record(done, { incident: incidentId, step });
    incidentTotal.record(total, { incident: incidentId, step });
  }
}
