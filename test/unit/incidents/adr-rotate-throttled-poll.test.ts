/**
 * Review finding 1 (high), through the real ADR adapter over a scripted ARM: revokeAndRotate is never sent twice and
 * a rotation ADR applied is always audited. The adapter sends the POST once and follows the async operation with
 * GETs; a poll throttled past the pipeline's own retries is polled again (not a ThrottledError out of
 * revokeAndRotate, which the rotate step would send again on), and a 4xx on a poll is an outcome unknown, settled by
 * reading the CA — never read as "ADR refused it" (the CA rotated, no audit record). Written by the reviewer; kept
 * asserting that the attack fails.
 */
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';

import { ArmDeviceRegistry } from '../../../shared/azure/device-registry';
import { CONTAINERS } from '../../../shared/containers';
import { runAdrRotate } from '../../../shared/incidents/adr-rotate';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { newIncident } from '../../../shared/incidents/rules/model';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const RG = '/subscriptions/s/resourceGroups/rg';
const OP =
  'https://management.azure.com/subscriptions/s/providers/Microsoft.DeviceRegistry/locations/x/operationStatuses/1?api-version=2026-11-01';

async function scenario(pollAnswer: (n: number) => { status: number; body?: unknown }) {
  let posts = 0;
  let throttledPolls = 0;
  let rotations = 0;
  const caBody = () => ({
    name: 'ica-1',
    properties: {
      certificateAuthorityType: 'ICA',
      subject: 'CN=ica-1',
      validityNotBefore: `2026-0${rotations + 1}-01T00:00:00.000Z`,
      validityNotAfter: `2031-0${rotations + 1}-01T00:00:00.000Z`,
      provisioningState: 'Succeeded',
    },
  });
  const httpClient: HttpClient = {
    sendRequest: async (request: PipelineRequest) => {
      const path = new URL(request.url).pathname;
      const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => ({
        request,
        status,
        headers: createHttpHeaders(headers),
        bodyAsText: body === undefined ? undefined : JSON.stringify(body),
      });
      if (request.method === 'POST') {
        posts++;
        rotations++; // ADR accepted it: the rotation happens whatever the polls meet
        return answer(202, undefined, { 'azure-asyncoperation': OP, 'retry-after': '0' });
      }
      if (path.includes('operationStatuses')) {
        const a = pollAnswer(throttledPolls++);
        return answer(a.status, a.body, { 'retry-after': '0' });
      }
      return answer(200, caBody());
    },
  };
  const adr = new ArmDeviceRegistry({
    resourceGroupId: RG,
    credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    httpClient,
    wait: async () => undefined,
  });

  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  const store = new MemoryStore(partitionKeys);
  const incidents = new CosmosIncidentRepository(store);
  const holds = new CosmosHoldRepository(store);
  const deps = {
    incidents: async () => incidents,
    holds: async () => holds,
    store: async () => store,
    events: async () => ({ publish: async () => undefined }),
    deviceRegistry: async () => adr,
    adrNamespace: 'ns-1',
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
    jobPollMs: 1,
    retry: { sleep: async () => undefined },
  } as unknown as IncidentDeps;
  const request = {
    id: 'inc-r',
    reason: 'leak',
    mode: 'quarantine' as const,
    scope: {
      certificatePolicy: { namespaceName: 'ns-1', certificateAuthorityName: 'ica-1', certificatePolicyName: 'p-1' },
    },
  };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  incident.status = 'running';
  const step: StepState = {
    kind: 'adrRotate',
    namespaceName: 'ns-1',
    certificateAuthorityName: 'ica-1',
    certificatePolicy: 'ns-1/ica-1/p-1',
    state: 'running',
    done: 0,
    total: 1,
    page: 0,
    offset: 0,
    errors: [],
  } as StepState;
  incident.steps = [step];
  await incidents.create(incident);

  await runAdrRotate(deps, (await incidents.get('inc-r'))!, 0, Number.MAX_SAFE_INTEGER).catch(() => undefined);
  const audits = (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items as unknown as Array<{
    action: string;
  }>;
  return { posts, rotations, polls: throttledPolls, step: (await incidents.get('inc-r'))!.steps![0], audits };
}

test('a throttled poll of an accepted rotation does not send revokeAndRotate again', async () => {
  // ARM's read throttling for a while: more than the pipeline's own 3 retries.
  const r = await scenario((n) =>
    n < 4
      ? { status: 429, body: { error: { code: 'TooManyRequests' } } }
      : { status: 200, body: { status: 'Succeeded' } },
  );
  expect(r.polls).toBeGreaterThanOrEqual(4);
  // Before the fix: posts === 2 (the intermediate rotated twice).
  expect(r.posts).toBe(1);
});

test('a 4xx on a poll of an accepted rotation is not read as "ADR refused it": the rotation is audited', async () => {
  // The operation-status URL answers 404 (expired/unknown operation) after ADR accepted and ran the rotation.
  const r = await scenario(() => ({
    status: 404,
    body: { error: { code: 'NotFound', message: 'no such operation' } },
  }));
  expect(r.rotations).toBe(1); // the CA was rotated
  // Before the fix: the step failed "revokeAndRotate refused", and no revokeAndRotate audit record existed.
  expect(r.audits.map((a) => a.action)).toContain('revokeAndRotate');
});
