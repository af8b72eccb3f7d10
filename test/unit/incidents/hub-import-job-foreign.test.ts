/**
 * Review finding 3, from the attacker's side: a hub import job is adopted as the step's own (a start whose answer was
 * lost) only when it is an import reading exactly the container URL the step gives the hub (query aside), taken since
 * the step began. The container's name is public (a hash of the incident and the hub), so whoever may run jobs on the
 * hub can start one reading a container of that name in their own storage account, or ours before the step writes its
 * file; adopted, it would be counted as having deleted every device (the incident `contained`, none deleted). And a
 * job that completes is checked: a few of its devices are read back, and one still there records no deletion.
 * Written by the reviewer (the first case), kept asserting that the attack fails.
 */
import { CONTAINERS } from '../../../shared/containers';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { runHubImportJob } from '../../../shared/incidents/hub-import-job';
import { hubJobContainer } from '../../../shared/incidents/rules/hub-job-container';
import { newIncident } from '../../../shared/incidents/rules/model';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import type { HubJob } from '../../../shared/ports';
import { MemoryStore } from '../../support/memory-store';

const HUB = 'hub-1.azure-devices.net';
const STARTED = '2026-11-25T10:00:00.000Z';
const OURS = 'https://ours.blob.core.windows.net';

/** A step whose hub already lists `planted` jobs; our own start deletes the devices unless `ourJobDeletes` is off. */
async function scenario(planted: (container: string) => HubJob[], ourJobDeletes = true) {
  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  const store = new MemoryStore(partitionKeys);
  const incidents = new CosmosIncidentRepository(store);
  const container = hubJobContainer('inc-j', HUB);
  const devices = new Set(['dev-1', 'dev-2', 'dev-3']);
  let started = 0;
  const blobsWritten = new Map<string, string>();
  const jobs = planted(container);
  const hub = {
    listJobs: async () => jobs,
    startImportJob: async () => {
      started++;
      if (ourJobDeletes) for (const d of [...devices]) devices.delete(d);
      const job: HubJob = {
        jobId: 'our-job',
        status: 'completed',
        type: 'import',
        startTimeUtc: '2026-11-25T10:00:02.000Z',
        inputBlobContainerUri: `${OURS}/${container}`,
      };
      jobs.push(job);
      return job;
    },
    getJob: async (id: string) => jobs.find((j) => j.jobId === id),
    getDevice: async (id: string) => (devices.has(id) ? { deviceId: id } : undefined),
  };
  const deps = {
    incidents: async () => incidents,
    store: async () => store,
    hubs: async () => ({ hub: () => hub, hostNames: () => [HUB] }),
    blobs: async () => ({
      put: async (c: string, n: string, t: string) => void blobsWritten.set(`${c}/${n}`, t),
      get: async (c: string, n: string) => blobsWritten.get(`${c}/${n}`),
      containerForHub: async (c: string) => ({ url: `${OURS}/${c}`, byIdentity: true }),
    }),
    clock: { now: () => new Date('2026-11-25T10:00:05Z') },
    jobPollMs: 1,
    retry: { sleep: async () => undefined },
  } as unknown as IncidentDeps;
  const request = { id: 'inc-j', reason: 'leak', mode: 'contain' as const, scope: { deviceIds: ['dev-1'] } };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  incident.status = 'running';
  incident.steps = [
    {
      kind: 'hub',
      hub: HUB,
      action: 'delete',
      path: 'importJob',
      state: 'running',
      startedAt: STARTED,
      done: 0,
      total: 3,
      page: 0,
      offset: 0,
      errors: [],
    } as StepState,
  ];
  incident.resolution = { ...incident.resolution, phase: 'done', pages: 1 };
  await incidents.create(incident);
  await incidents.putTargets(
    'inc-j',
    0,
    [...devices].map((d) => ({ registrationId: d, deviceId: d, hub: HUB, via: 'group' as const })),
  );

  await runHubImportJob(deps, (await incidents.get('inc-j'))!, 0, Number.MAX_SAFE_INTEGER);
  const audited = (await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items.length;
  const step = (await incidents.get('inc-j'))!.steps![0];
  return { started, devices, audited, step };
}

test('a job reading a same-named container of another storage account is not adopted as the step’s own', async () => {
  // The attacker's job: completed, reading https://evil…/<our container name>.
  const r = await scenario((container) => [
    {
      jobId: 'evil-job',
      status: 'completed',
      type: 'import',
      startTimeUtc: '2026-11-25T10:00:01.000Z',
      inputBlobContainerUri: `https://evil.blob.core.windows.net/${container}?sig=x`,
    },
  ]);
  // Before the fix: started === 0, the devices still on the hub, and 3 deleteDevice records written.
  expect(r.started).toBe(1);
  expect(r.devices.size).toBe(0);
  expect(r.audited).toBe(3);
});

test('a job reading our very container but taken before the step began, or an export, is not adopted', async () => {
  const r = await scenario((container) => [
    {
      jobId: 'early',
      status: 'completed',
      type: 'import',
      startTimeUtc: '2026-11-25T09:59:00.000Z',
      inputBlobContainerUri: `${OURS}/${container}`,
    },
    {
      jobId: 'export',
      status: 'completed',
      type: 'export',
      startTimeUtc: '2026-11-25T10:00:01.000Z',
      inputBlobContainerUri: `${OURS}/${container}`,
    },
  ]);
  expect([r.started, r.devices.size, r.audited]).toEqual([1, 0, 3]);
});

test('a job that completed without deleting the devices records no deletion: the step fails saying so', async () => {
  // Our own job (or one adopted) reports completed, yet the devices are still on the hub.
  const r = await scenario(() => [], false);
  expect(r.started).toBe(1);
  expect(r.audited).toBe(0);
  expect(r.step.errors).toEqual([expect.stringMatching(/import job our-job completed, yet dev-1 is still on the hub/)]);
});
