/**
 * `bench:faults`, the webhook: the function app's allocate route at a fixed rate for a while, three kinds of request
 * in turn — a device to allocate, a device denied before the faults began, a malformed body — and every answer
 * counted by kind and status. Under faults its store (Cosmos) fails as the plan says; the webhook answers from its
 * snapshots, so nothing should change but a 503 past the policy's `denyList.maxAgeSeconds`.
 */
import { join } from 'node:path';

import type { FaultPlan } from '../../dev/faults/plan';
import type { LocalStack } from '../../dev/stack';
import type { Services } from '../../shared/composition';
import { CONTAINERS } from '../../shared/containers';
import { serve } from './support';

export type WebhookTally = Record<'allocate' | 'denied' | 'malformed', Record<string, number>>;

const request = (registrationId: string, hubs: string[]) =>
  JSON.stringify({
    enrollmentGroup: { enrollmentGroupId: 'line-w', attestation: { type: 'symmetricKey' }, allocationPolicy: 'custom' },
    deviceRuntimeContext: { registrationId, symmetricKey: {}, payload: {} },
    linkedHubs: hubs,
  });

export async function webhookUnder(
  stack: LocalStack,
  services: Services,
  env: Record<string, string>,
  hubs: string[],
  options: { rate: number; seconds: number; faults: FaultPlan },
): Promise<WebhookTally> {
  await services.store
    .container(CONTAINERS.denyList.name)
    .upsert({ id: 'registrationId:stolen-1', kind: 'registrationId', value: 'stolen-1', reason: 'bench' });
  const { port, child } = await serve(join(__dirname, 'webhook-host.js'), env);
  const url = `http://127.0.0.1:${port}/api/allocate?code=bench`;
  const bodies = {
    allocate: (i: number) => request(`device-${i}`, hubs),
    denied: () => request('stolen-1', hubs),
    malformed: () => '{"deviceRuntimeContext": {"registrationId": 42}}',
  };
  const tally: WebhookTally = { allocate: {}, denied: {}, malformed: {} };
  const kinds = Object.keys(bodies) as Array<keyof typeof bodies>;
  try {
    // Warm: the first answer is a 200 before the clock starts (a cold instance's first snapshots).
    while ((await fetch(url, { method: 'POST', body: bodies.allocate(0) })).status !== 200)
      await new Promise((r) => setTimeout(r, 100));
    stack.faults?.set(options.faults);
    const total = options.rate * options.seconds;
    const started = performance.now();
    const inFlight: Array<Promise<void>> = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const kind = kinds[i % kinds.length];
      inFlight.push(
        fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[kind](i) }).then(
          async (res) => {
            await res.arrayBuffer();
            tally[kind][res.status] = (tally[kind][res.status] ?? 0) + 1;
          },
          () => {
            tally[kind].error = (tally[kind].error ?? 0) + 1;
          },
        ),
      );
    }
    await Promise.all(inFlight);
  } finally {
    stack.faults?.set({ rules: [] });
    child.kill();
  }
  return tally;
}
