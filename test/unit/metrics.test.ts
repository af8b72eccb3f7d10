/**
 * The metrics Azure Monitor receives: the adapter's instruments read back through an OpenTelemetry SDK reader, the
 * 429 counts of the adapters' error translation, and the names the Bicep workbook queries kept in step with them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';

import { translateIotError } from '../../shared/azure/iot-errors';
import { instrumentsFromProviderNow, METRIC_NAMES, OtelMetrics } from '../../shared/azure/metrics';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const reader = new Reader();
beforeAll(() => {
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  instrumentsFromProviderNow();
});
afterAll(() => metrics.disable());

async function points(name: string) {
  const { resourceMetrics } = await reader.collect();
  const metric = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  return (metric?.dataPoints ?? []) as Array<{ attributes: Record<string, unknown>; value: unknown }>;
}

test('decisions, import rows and incident progress reach the meter with their dimensions', async () => {
  const m = new OtelMetrics();
  m.allocation({ outcome: 'allocate', rule: 'eu', hub: 'hub-1', latencyMs: 3.5 });
  m.allocation({ outcome: 'allocate', rule: 'eu', hub: 'hub-1', latencyMs: 1.5 });
  m.allocation({ outcome: 'deny', latencyMs: 0.5 });
  m.importRows('acme-tpm', 'enrolled', 10);
  m.importRows('acme-tpm', 'failed', 0); // nothing to count
  m.incidentProgress('inc-1', 'hub hub-1', 40, 100);
  expect(await points(METRIC_NAMES.allocations)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ attributes: { outcome: 'allocate', rule: 'eu', hub: 'hub-1' }, value: 2 }),
      expect.objectContaining({ attributes: { outcome: 'deny' }, value: 1 }),
    ]),
  );
  const latency = await points(METRIC_NAMES.webhookLatency);
  expect(latency.find((p) => p.attributes.outcome === 'allocate')?.value).toMatchObject({ count: 2, sum: 5 });
  expect(await points(METRIC_NAMES.importRows)).toEqual([
    expect.objectContaining({ attributes: { manufacturer: 'acme-tpm', status: 'enrolled' }, value: 10 }),
  ]);
  expect(await points(METRIC_NAMES.incidentDone)).toEqual([
    expect.objectContaining({ attributes: { incident: 'inc-1', step: 'hub hub-1' }, value: 40 }),
  ]);
});

test('a 429 from DPS or IoT Hub is counted by service as it is translated', async () => {
  const throttled = (body: string) =>
    Object.assign(new Error('throttled'), {
      response: { statusCode: 429, headers: { 'retry-after': '2' } },
      responseBody: body,
    });
  translateIotError(throttled('{"errorCode":429001,"message":"Operations are being throttled for this tenant."}'));
  translateIotError(throttled('{"Message":"ErrorCode:ThrottlingException;IoT hub throttling"}'));
  translateIotError(throttled('{"Message":"ErrorCode:ThrottlingException;again"}'));
  const byService = Object.fromEntries(
    (await points(METRIC_NAMES.throttled)).map((p) => [p.attributes.service, p.value]),
  );
  expect(byService).toEqual({ dps: 1, iothub: 2 });
});

test('the Azure Monitor workbook queries every metric the app emits, by the same names', () => {
  const workbook = readFileSync(join(__dirname, '..', '..', 'infra', 'modules', 'workbook.bicep'), 'utf8');
  for (const name of Object.values(METRIC_NAMES)) expect(workbook).toContain(name);
});
