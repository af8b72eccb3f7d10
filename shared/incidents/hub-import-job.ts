/**
 * Deletes a hub step's devices with an IoT Hub import job: `devices.txt` (delete mode) to the job's own blob
 * container, the job started — waiting while another import or export job runs on the hub, which IoT Hub refuses
 * with 403 JobQuotaExceeded — its id checkpointed, then polled to its end; a resumed worker polls the same job
 * instead of starting another, and a start whose answer was lost is found on the hub by its container before any
 * other start. `importErrors.log` tells which devices were not deleted.
 */
import { audit } from '../audit';
import { JobQuotaExceededError } from '../errors';
import { actorOf, dateOf, type IncidentDeps, lower, millis, onceFor } from './deps';
import { callsTo } from './outage-wait';
import { updateStep } from './page-walker';
import { hubJobContainer, isStepsJob } from './rules/hub-job-container';
import type { Incident } from './rules/model';
import type { StepState } from './rules/step-state';

/** Devices read back after a job completes, to see it did the step's work. */
const SAMPLE = 3;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The hub's devices across every page of targets. */
async function devicesOnHub(deps: IncidentDeps, incident: Incident, hub: string): Promise<string[]> {
  const repo = await deps.incidents();
  const ids = new Map<string, string>();
  for (let page = 0; page < incident.resolution.pages; page++)
    for (const t of (await repo.targets(incident.id, page)) ?? [])
      if (t.deviceId && lower(t.hub ?? '') === lower(hub)) ids.set(lower(t.deviceId), t.deviceId);
  return [...ids.values()];
}

/** Answers true when the job has ended and its outcome is recorded, false when the deadline came first. */
export async function runHubImportJob(deps: IncidentDeps, incident: Incident, index: number, deadline: number) {
  let step = (incident.steps as StepState[])[index] as Extract<StepState, { kind: 'hub' }>;
  if (!deps.blobs) throw new Error('an import-job path needs blob storage');
  const blobs = await deps.blobs();
  const hub = (await deps.hubs()).hub(step.hub);
  const container = hubJobContainer(incident.id, step.hub);
  const poll = deps.jobPollMs ?? 2000;
  const calls = callsTo(deps, step.hub);
  const deviceIds = await devicesOnHub(deps, incident, step.hub);
  if (!step.jobId) {
    await blobs.put(
      container,
      'devices.txt',
      deviceIds.map((id) => JSON.stringify({ id, importMode: 'delete' })).join('\n'),
    );
    const ref = await blobs.containerForHub(container);
    // Never two jobs for one step: every try first looks for the job this step made — an import job reading this
    // very container URL, taken since the step began (rules/hub-job-container.ts: never another's job reading a
    // container of the same name) — a start whose answer was lost, or a share that stopped before checkpointing the
    // id, and starts one only when the hub, asked, has none.
    const startOnce = async () =>
      (await hub.listJobs()).find((j) => isStepsJob(j, ref.url, step.startedAt)) ??
      (await hub.startImportJob(ref, ref));
    let jobId: string | undefined;
    while (!jobId) {
      try {
        jobId = (await calls.call(startOnce)).jobId;
      } catch (err) {
        // One import or export job at a time per hub: wait for the running one, or hand over to the next message.
        if (!(err instanceof JobQuotaExceededError)) throw err;
        if (millis(deps) + poll >= deadline) return false;
        await sleep(poll);
      }
    }
    const started = jobId;
    step = (await updateStep(deps, incident.id, index, (s) => Object.assign(s, { jobId: started }))).steps![
      index
    ] as typeof step;
  }
  const jobId = step.jobId as string;
  for (;;) {
    const job = await calls.call(() => hub.getJob(jobId));
    if (!job) throw new Error(`import job ${jobId} on ${step.hub} is gone`);
    if (job.status === 'failed' || job.status === 'cancelled') {
      const error = `${step.hub}: import job ${jobId} ${job.status}: ${job.failureReason ?? 'no reason given'}`;
      await updateStep(deps, incident.id, index, (s) => void (s.errors = [...step.errors, error]));
      return true;
    }
    if (job.status === 'completed') break;
    if (millis(deps) + poll >= deadline) return false;
    await sleep(poll);
  }
  const failed = new Map<string, string>();
  for (const line of ((await blobs.get(container, 'importErrors.log')) ?? '').split('\n').filter((l) => l.trim())) {
    const e = JSON.parse(line) as { key?: string; errorCode?: string; errorStatus?: string };
    if (e.key) failed.set(lower(e.key), `${e.errorCode} ${e.errorStatus ?? ''}`.trim());
  }
  const store = await deps.store();
  const absent = (id: string) => failed.get(lower(id))?.startsWith('DeviceNotFound') ?? false;
  // Deleted, or not there (as the bulk path records it): each device of the step once. The audit ids are the
  // change's own, so a worker resumed here does not record a deletion twice.
  const gone = deviceIds.filter((id) => !failed.has(lower(id)) || absent(id));
  // Checked, not taken on the job's word: a few of them read on the hub. One still there means the job did not do
  // this step's work (whatever it read): nothing is recorded as deleted, and the step fails saying so.
  for (const id of gone.slice(0, SAMPLE)) {
    if (!(await calls.call(() => hub.getDevice(id)))) continue;
    const error = `${step.hub}: import job ${jobId} completed, yet ${id} is still on the hub: no deletion recorded`;
    await updateStep(deps, incident.id, index, (s) => void (s.errors = [...step.errors, error]));
    return true;
  }
  for (let i = 0; i < gone.length; i += 50)
    await Promise.all(
      gone.slice(i, i + 50).map((id) =>
        audit(
          store,
          {
            actor: actorOf(incident.id),
            action: 'deleteDevice',
            target: { kind: 'device', id, hub: step.hub },
            before: { registered: absent(id) ? 'notFound' : true },
            after: { registered: false, via: `import job ${jobId}` },
          },
          dateOf(deps),
          onceFor(deps, incident.id, lower(step.hub), id, 'deleted'),
        ),
      ),
    );
  const errors = [...failed]
    .filter(([, reason]) => !reason.startsWith('DeviceNotFound'))
    .map(([id, reason]) => `${step.hub}/${id}: ${reason}`);
  await updateStep(deps, incident.id, index, (s) => {
    s.done = s.total;
    s.errors = [...step.errors, ...errors];
  });
  return true;
}
