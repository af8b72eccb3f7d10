/**
 * What the webhook tells about itself: every decision goes to its metrics port and to the hour-by-hour counts it
 * writes for the console, with its rule and hub; an explain call is no decision and counts in neither.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { HourCounts } from '../../../shared/allocation/rules/counters';
import { AllocationRuntime } from '../../../shared/allocation/runtime';
import type { MetricsPort } from '../../../shared/ports';

const fixture = (name: string) => JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures', name), 'utf8'));

test('decisions reach the metrics and the counts written for the console; explain calls do not', async () => {
  const seen: Array<Parameters<MetricsPort['allocation']>[0]> = [];
  const saved: HourCounts[] = [];
  const metrics: MetricsPort = {
    allocation: (d) => void seen.push(d),
    importRows: () => undefined,
    incidentProgress: () => undefined,
  };
  const runtime = new AllocationRuntime(
    {
      loadPolicy: async () => ({ doc: fixture('allocation-policy.example.json'), version: 'test' }),
      denyList: async () => ({
        loadAll: async () => ({ entries: [], position: 0 }),
        changesSince: async () => ({ present: [], absent: [], changed: [], position: 0 }),
      }),
      loadHubLoad: async () => new Map(),
      events: async () => ({ publish: async () => undefined, close: async () => undefined }),
      saveDecisions: async (hours) => void saved.push(...hours),
    },
    { metrics },
  );
  await runtime.start();
  try {
    const request = fixture('allocation-request.tpm-individual.json');
    const answer = await runtime.allocate(structuredClone(request));
    expect(answer.status).toBe(200);
    await runtime.allocate(structuredClone(request), true);
    expect((await runtime.allocate({ linkedHubs: 'not a list' })).status).toBe(400);

    const hub = (answer.body as { iotHubHostName: string }).iotHubHostName;
    expect(seen).toEqual([
      { outcome: 'allocate', rule: expect.any(String), hub, latencyMs: expect.any(Number) },
      { outcome: 'invalid', latencyMs: expect.any(Number) },
    ]);
    await runtime.flushDecisions();
    const hour = saved.at(-1);
    expect(hour).toMatchObject({ byHub: { [hub]: 1 }, invalid: 1 });
    expect(Object.values(hour?.byRule ?? {})).toEqual([1]);
  } finally {
    await runtime.stop();
  }
});
