/**
 * Breach containment: submit an incident (deny list at once), then a worker resolves its scope to devices, plans the
 * steps (shared/breach/plan) and runs them, checkpointing every batch in the incident document, so a crash or a
 * re-delivered message resumes instead of repeating. Every change is audited with what it was before; release
 * undoes what the incident disabled.
 */
import { randomBytes } from 'node:crypto';

import { type DenyEntry, denyKey } from '../allocation/deny-list';
import { audit } from '../audit';
import { hubJobContainer } from '../breach/hub-job-container';
import { type IncidentRequest, normalizeThumbprint } from '../breach/incident';
import {
  type CompromisedGroup,
  DEFAULT_IMPORT_JOB_THRESHOLD,
  denyEntries,
  type HubPath,
  hubPath,
  planIncident,
  type Resolution,
  type Step,
  type Target,
} from '../breach/plan';
import { CONTAINERS, QUEUES } from '../containers';
import type { DeviceRegistrationState, EnrollmentGroup, IndividualEnrollment, X509Certificates } from '../dps-types';
import { ConflictError, NotFoundError } from '../errors';
import { HUB_BATCH } from '../limits';
import type {
  BlobsPort,
  DocumentStore,
  EnrollmentsPort,
  EventsPort,
  HubDirectory,
  Page,
  QueuePort,
  StoredDocument,
} from '../ports';
import { type RetryOptions, retryThrottled } from '../retry';

export type StepState = Step & {
  state: 'pending' | 'running' | 'done' | 'failed';
  done: number;
  total: number;
  startedAt?: string;
  finishedAt?: string;
  errors: string[];
  path?: string;
  via?: HubPath;
  jobId?: string;
};

export type Undo =
  | { type: 'enableEnrollment'; id: string }
  | { type: 'deleteBlock'; id: string }
  | { type: 'enableGroup'; id: string }
  | { type: 'enableDevice'; id: string; hub: string };

export interface IncidentDocument extends StoredDocument {
  request: IncidentRequest;
  status: 'received' | 'running' | 'contained' | 'failed' | 'released';
  receivedAt: string;
  deniedAt?: string;
  plannedAt?: string;
  completedAt?: string;
  releasedAt?: string;
  notes: string[];
  targets?: number;
  steps?: StepState[];
  undo: Undo[];
}

export interface IncidentDeps {
  store: () => Promise<DocumentStore>;
  enrollments: () => Promise<EnrollmentsPort>;
  hubs: () => Promise<HubDirectory>;
  queues: () => Promise<QueuePort>;
  events: () => Promise<EventsPort>;
  blobs?: () => Promise<BlobsPort>;
  /** Devices on one hub above which containment deletes them with an import job instead of bulk calls. */
  importJobThreshold?: number;
  /** How often an import job is polled (ms). */
  jobPollMs?: number;
  /** Tells the webhook of this instance at once (other instances refresh from the store within seconds). */
  onDeny?: (entries: DenyEntry[]) => void;
  onRelease?: (entries: DenyEntry[]) => void;
  retry?: RetryOptions;
  log?: (line: string) => void;
}

const now = () => new Date().toISOString();
const lower = (s: string) => s.toLowerCase();

async function incidents(deps: IncidentDeps) {
  return (await deps.store()).container<IncidentDocument>(CONTAINERS.incidents.name);
}

async function writeDeny(deps: IncidentDeps, entries: DenyEntry[]): Promise<void> {
  const store = await deps.store();
  const container = store.container(CONTAINERS.denyList.name);
  const createdAt = now();
  for (const e of entries)
    await container.upsert({ id: denyKey(e.kind, e.value).replace(/[/\\?#]/g, '_'), createdAt, ...e });
  deps.onDeny?.(entries);
}

async function emit(
  deps: IncidentDeps,
  type: string,
  incidentId: string,
  data: Record<string, unknown>,
): Promise<void> {
  await (await deps.events()).publish([{ type, subject: incidentId, time: now(), data: { incidentId, ...data } }]);
}

export type SubmitResult =
  { kind: 'accepted' | 'duplicate'; incident: IncidentDocument } | { kind: 'conflict'; reason: string };

/**
 * Records the incident, denies the identities it names directly (so the webhook refuses them within seconds),
 * and queues the rest. The same incident submitted again (a re-delivered alert) changes nothing.
 */
export async function submitIncident(deps: IncidentDeps, request: IncidentRequest): Promise<SubmitResult> {
  const container = await incidents(deps);
  const doc: IncidentDocument = { id: request.id, request, status: 'received', receivedAt: now(), notes: [], undo: [] };
  let stored: IncidentDocument;
  try {
    stored = await container.create(doc);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    const existing = await container.read(request.id, request.id);
    if (existing && JSON.stringify(existing.request) === JSON.stringify(request))
      return { kind: 'duplicate', incident: existing };
    return { kind: 'conflict', reason: `incident ${request.id} already exists with another scope, reason or mode` };
  }
  // Refuse first: everything named directly, and a compromised CA by its subject (found among the few groups).
  const direct: Resolution = {
    targets: [...(request.scope.registrationIds ?? []), ...(request.scope.deviceIds ?? [])].map((registrationId) => ({
      registrationId,
      via: 'group' as const,
    })),
    groups: request.scope.issuerThumbprint ? await groupsHoldingCa(deps, request.scope.issuerThumbprint) : [],
    notes: [],
  };
  await writeDeny(deps, denyEntries(request, direct));
  stored = await container.replace({ ...stored, deniedAt: now() });
  await (await deps.queues()).send(QUEUES.incidentSteps, { incidentId: request.id });
  await emit(deps, 'incident.received', request.id, {
    reason: request.reason,
    mode: request.mode,
    scope: request.scope,
  });
  return { kind: 'accepted', incident: stored };
}

async function allPages<T>(
  page: (token?: string) => Promise<Page<T>>,
  each: (item: T) => Promise<void> | void,
): Promise<void> {
  let token: string | undefined;
  do {
    const p = await page(token);
    for (const item of p.items) await each(item);
    token = p.continuationToken;
  } while (token);
}

/** The certificates of a slot pair, by their thumbprints (both kinds, normalised) and subject. */
function certificates(slots: X509Certificates | undefined): Array<{ thumbs: string[]; subject?: string }> {
  return [slots?.primary?.info, slots?.secondary?.info].flatMap((info) =>
    info
      ? [
          {
            thumbs: [info.sha1Thumbprint, info.sha256Thumbprint].filter(Boolean).map(normalizeThumbprint),
            subject: info.subjectName,
          },
        ]
      : [],
  );
}

/** The enrollment groups whose signing certificate is the given CA (DPS allows at most 100 X.509 groups). */
async function groupsHoldingCa(deps: IncidentDeps, thumbprint: string): Promise<CompromisedGroup[]> {
  const dps = await deps.enrollments();
  const groups: CompromisedGroup[] = [];
  await allPages(
    (t) => retryThrottled(() => dps.queryGroups(100, t), deps.retry),
    (g: EnrollmentGroup) => {
      const hit = certificates(g.attestation.x509?.signingCertificates).find((c) => c.thumbs.includes(thumbprint));
      if (hit) groups.push({ enrollmentGroupId: g.enrollmentGroupId, caSubject: hit.subject ?? '' });
    },
  );
  return groups;
}

/** Finds the devices an incident reaches, through DPS (registration states, groups, enrollments). */
export async function resolveScope(deps: IncidentDeps, request: IncidentRequest): Promise<Resolution> {
  const dps = await deps.enrollments();
  const r = <T>(call: () => Promise<T>) => retryThrottled(call, deps.retry);
  const targets = new Map<string, Target>();
  const groups: CompromisedGroup[] = [];
  const notes: string[] = [];
  const fromState = (state: DeviceRegistrationState, via: Target['via'], enrollmentGroupId?: string) => {
    targets.set(lower(state.registrationId), {
      registrationId: state.registrationId,
      deviceId: state.deviceId,
      hub: state.assignedHub,
      via,
      enrollmentGroupId,
    });
  };
  const scope = request.scope;

  for (const id of [...(scope.registrationIds ?? []), ...(scope.deviceIds ?? [])]) {
    const [state, individual] = await Promise.all([
      r(() => dps.getRegistrationState(id)),
      r(() => dps.getEnrollment(id)),
    ]);
    if (!state && !individual) notes.push(`${id}: neither an enrollment nor a registration record; denied only`);
    targets.set(lower(id), {
      registrationId: state?.registrationId ?? id,
      deviceId: state?.deviceId,
      hub: state?.assignedHub,
      via: individual ? 'individual' : 'group',
    });
  }
  const groupMembers = async (groupId: string) =>
    allPages(
      (t) => r(() => dps.queryGroupRegistrations(groupId, 100, t)),
      (s: DeviceRegistrationState) => fromState(s, 'group', groupId),
    );
  if (scope.enrollmentGroupId) {
    if (!(await r(() => dps.getGroup(scope.enrollmentGroupId as string))))
      notes.push(`enrollment group ${scope.enrollmentGroupId} not found`);
    await groupMembers(scope.enrollmentGroupId);
  }
  if (scope.issuerThumbprint) {
    groups.push(...(await groupsHoldingCa(deps, scope.issuerThumbprint)));
    if (groups.length === 0)
      notes.push(`no enrollment group holds CA ${scope.issuerThumbprint}: nothing to disable in DPS for it`);
    for (const g of groups) await groupMembers(g.enrollmentGroupId);
  }
  if (scope.certificateThumbprints || scope.manufacturerLot) {
    const wanted = new Set(scope.certificateThumbprints ?? []);
    const found: string[] = [];
    await allPages(
      (t) => r(() => dps.queryEnrollments(100, t)),
      (e: IndividualEnrollment) => {
        const byCert = certificates(e.attestation.x509?.clientCertificates).some((c) =>
          c.thumbs.some((t) => wanted.has(t)),
        );
        const byLot = scope.manufacturerLot !== undefined && e.initialTwin?.tags?.lot === scope.manufacturerLot;
        if (byCert || byLot) found.push(e.registrationId);
      },
    );
    for (const id of found) {
      const state = await r(() => dps.getRegistrationState(id));
      targets.set(lower(id), {
        registrationId: id,
        deviceId: state?.deviceId,
        hub: state?.assignedHub,
        via: 'individual',
      });
    }
  }
  return { targets: [...targets.values()], groups, notes };
}

/** Saves progress: one writer at a time per incident in this process; the etag catches any other. */
class Checkpoint {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private doc: IncidentDocument,
    private readonly save: (d: IncidentDocument) => Promise<IncidentDocument>,
  ) {}

  get current(): IncidentDocument {
    return this.doc;
  }

  update(change: (d: IncidentDocument) => void): Promise<void> {
    const next = this.chain.then(async () => {
      change(this.doc);
      this.doc = await this.save(this.doc);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

async function runDpsAction(
  deps: IncidentDeps,
  incident: IncidentDocument,
  action: Extract<Step, { name: 'dps' }>['actions'][number],
): Promise<Undo | undefined> {
  const dps = await deps.enrollments();
  const store = await deps.store();
  const r = <T>(call: () => Promise<T>) => retryThrottled(call, deps.retry);
  const actor = `incident:${incident.id}`;
  if (action.type === 'disableGroup') {
    const group = await r(() => dps.getGroup(action.enrollmentGroupId));
    if (!group || group.provisioningStatus === 'disabled') return undefined;
    const after = await r(() => dps.putGroup({ ...group, provisioningStatus: 'disabled' }));
    await audit(store, {
      actor,
      action: 'disableEnrollmentGroup',
      target: { kind: 'enrollmentGroup', id: group.enrollmentGroupId },
      before: { provisioningStatus: group.provisioningStatus, etag: group.etag },
      after: { provisioningStatus: after.provisioningStatus, etag: after.etag },
    });
    return { type: 'enableGroup', id: group.enrollmentGroupId };
  }
  const existing = await r(() => dps.getEnrollment(action.registrationId));
  if (existing) {
    if (existing.provisioningStatus === 'disabled') return undefined;
    const after = await r(() => dps.putEnrollment({ ...existing, provisioningStatus: 'disabled' }));
    await audit(store, {
      actor,
      action: 'disableEnrollment',
      target: { kind: 'enrollment', id: existing.registrationId },
      before: { provisioningStatus: existing.provisioningStatus, etag: existing.etag },
      after: { provisioningStatus: after.provisioningStatus, etag: after.etag },
    });
    return { type: 'enableEnrollment', id: existing.registrationId };
  }
  if (action.type === 'disableEnrollment') return undefined; // gone already
  // One device of a group: DPS checks individual enrollments first, so a disabled one under its ID shuts it out.
  const key = () => randomBytes(32).toString('base64');
  await r(() =>
    dps.putEnrollment({
      registrationId: action.registrationId,
      provisioningStatus: 'disabled',
      attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(), secondaryKey: key() } },
      initialTwin: { tags: { blockedByIncident: incident.id } },
    }),
  );
  await audit(store, {
    actor,
    action: 'blockGroupDevice',
    target: { kind: 'enrollment', id: action.registrationId },
    before: null,
    after: { provisioningStatus: 'disabled', blockedByIncident: incident.id },
  });
  return { type: 'deleteBlock', id: action.registrationId };
}

async function runHubBatch(
  deps: IncidentDeps,
  incident: IncidentDocument,
  step: Extract<Step, { name: 'hub' }>,
  deviceIds: string[],
): Promise<{ undo: Undo[]; errors: string[] }> {
  const hub = (await deps.hubs()).hub(step.hub);
  const store = await deps.store();
  const r = <T>(call: () => Promise<T>) => retryThrottled(call, deps.retry);
  const actor = `incident:${incident.id}`;
  const errors: string[] = [];
  if (step.action === 'delete') {
    const result = await r(() =>
      hub.bulkDevices(
        'delete',
        deviceIds.map((deviceId) => ({ deviceId })),
      ),
    );
    // A device already gone (a batch replayed after a crash) was deleted once, earlier: no second audit record.
    const notDeleted = new Set(result.errors.map((e) => lower(e.deviceId)));
    for (const e of result.errors)
      if (e.errorCode !== 'DeviceNotFound') errors.push(`${step.hub}/${e.deviceId}: ${e.errorCode} ${e.errorStatus}`);
    await Promise.all(
      deviceIds
        .filter((id) => !notDeleted.has(lower(id)))
        .map((id) =>
          audit(store, {
            actor,
            action: 'deleteDevice',
            target: { kind: 'device', id, hub: step.hub },
            before: { registered: true },
            after: { registered: false },
          }),
        ),
    );
    return { undo: [], errors };
  }
  const devices = (await Promise.all(deviceIds.map((id) => r(() => hub.getDevice(id))))).filter(
    (d) => d && d.status !== 'disabled',
  );
  if (devices.length === 0) return { undo: [], errors };
  const result = await r(() =>
    hub.bulkDevices(
      'update',
      devices.map((d) => ({ ...d!, status: 'disabled', statusReason: `incident ${incident.id}` })),
    ),
  );
  const failed = new Set(result.errors.map((e) => lower(e.deviceId)));
  for (const e of result.errors) errors.push(`${step.hub}/${e.deviceId}: ${e.errorCode} ${e.errorStatus}`);
  const undo: Undo[] = [];
  for (const d of devices) {
    if (failed.has(lower(d!.deviceId))) continue;
    await audit(store, {
      actor,
      action: 'disableDevice',
      target: { kind: 'device', id: d!.deviceId, hub: step.hub },
      before: { status: d!.status, etag: d!.etag },
      after: { status: 'disabled' },
    });
    undo.push({ type: 'enableDevice', id: d!.deviceId, hub: step.hub });
  }
  return { undo, errors };
}

function itemsOf(step: Step): unknown[] {
  switch (step.name) {
    case 'deny':
      return step.entries;
    case 'dps':
      return step.actions;
    case 'hub':
      return step.deviceIds;
    case 'registrations':
      return step.registrationIds;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Deletes a hub step's devices with an IoT Hub import job: `devices.txt` (delete mode) to blob storage, the job
 * started (waiting while another job runs on the hub), its id checkpointed, then polled to its end — a resumed
 * worker polls the same job instead of starting another. `importErrors.log` tells which devices were not deleted.
 */
async function runHubImportJob(deps: IncidentDeps, checkpoint: Checkpoint, index: number): Promise<void> {
  const step = (checkpoint.current.steps as StepState[])[index] as StepState & Extract<Step, { name: 'hub' }>;
  if (!deps.blobs) throw new Error('an import-job path needs blob storage');
  const blobs = await deps.blobs();
  const hub = (await deps.hubs()).hub(step.hub);
  const container = hubJobContainer(checkpoint.current.id, step.hub);
  if (!step.jobId) {
    await blobs.put(
      container,
      'devices.txt',
      step.deviceIds.map((id) => JSON.stringify({ id, importMode: 'delete' })).join('\n'),
    );
    const ref = await blobs.containerForHub(container);
    // One import or export job at a time per hub: a 429 waits for the running one.
    const job = await retryThrottled(() => hub.startImportJob(ref, ref), { attempts: 120, ...deps.retry });
    await checkpoint.update((d) =>
      Object.assign((d.steps as StepState[])[index], {
        jobId: job.jobId,
        path: `IoT Hub import job ${job.jobId} (delete mode, ${step.deviceIds.length} devices)`,
      }),
    );
  }
  const jobId = (checkpoint.current.steps as StepState[])[index].jobId as string;
  for (;;) {
    const job = await retryThrottled(() => hub.getJob(jobId), deps.retry);
    if (!job) throw new Error(`import job ${jobId} on ${step.hub} is gone`);
    if (job.status === 'failed' || job.status === 'cancelled') {
      await checkpoint.update((d) =>
        (d.steps as StepState[])[index].errors.push(
          `${step.hub}: import job ${jobId} ${job.status}: ${job.failureReason ?? 'no reason given'}`,
        ),
      );
      return;
    }
    if (job.status === 'completed') break;
    await sleep(deps.jobPollMs ?? 2000);
  }
  const log = (await blobs.get(container, 'importErrors.log')) ?? '';
  const failed = new Map<string, string>();
  for (const line of log.split('\n').filter((l) => l.trim())) {
    const e = JSON.parse(line) as { key?: string; errorCode?: string; errorStatus?: string };
    if (e.key) failed.set(lower(e.key), `${e.errorCode} ${e.errorStatus ?? ''}`.trim());
  }
  const store = await deps.store();
  const actor = `incident:${checkpoint.current.id}`;
  const deleted = step.deviceIds.filter((id) => !failed.has(lower(id)));
  // The audit ids are the change's own, so a worker resumed here does not record a deletion twice.
  for (let i = 0; i < deleted.length; i += 50) {
    await Promise.all(
      deleted.slice(i, i + 50).map((id) =>
        audit(
          store,
          {
            actor,
            action: 'deleteDevice',
            target: { kind: 'device', id, hub: step.hub },
            before: { registered: true },
            after: { registered: false, via: `import job ${jobId}` },
          },
          new Date(),
          `${checkpoint.current.id}.${lower(step.hub)}.${lower(id)}.deleted`,
        ),
      ),
    );
  }
  const errors = [...failed]
    .filter(([, reason]) => !reason.startsWith('DeviceNotFound'))
    .map(([id, reason]) => `${step.hub}/${id}: ${reason}`);
  await checkpoint.update((d) => {
    const s = (d.steps as StepState[])[index];
    s.done = s.total;
    s.errors.push(...errors);
  });
}

/** A step's items in batches, each checkpointed with what it did and what would undo it. */
async function runBatches(deps: IncidentDeps, checkpoint: Checkpoint, index: number): Promise<void> {
  const step = (checkpoint.current.steps as StepState[])[index];
  const items = itemsOf(step);
  const batch = step.name === 'hub' ? HUB_BATCH : step.name === 'deny' ? 100 : 10;
  const dps = await deps.enrollments();
  for (let from = step.done; from < items.length; from += batch) {
    const slice = items.slice(from, from + batch);
    let undo: Undo[] = [];
    let errors: string[] = [];
    if (step.name === 'deny') await writeDeny(deps, slice as DenyEntry[]);
    else if (step.name === 'dps') {
      for (const action of slice as Extract<Step, { name: 'dps' }>['actions']) {
        const u = await runDpsAction(deps, checkpoint.current, action);
        if (u) undo.push(u);
      }
    } else if (step.name === 'hub')
      ({ undo, errors } = await runHubBatch(deps, checkpoint.current, step, slice as string[]));
    else {
      for (const id of slice as string[]) {
        await retryThrottled(() => dps.deleteRegistrationState(id), deps.retry).catch((err) => {
          if (!(err instanceof NotFoundError)) throw err;
        });
      }
    }
    await checkpoint.update((d) => {
      const s = (d.steps as StepState[])[index];
      s.done = Math.min(items.length, from + slice.length);
      s.errors.push(...errors);
      d.undo.push(...undo);
    });
  }
}

async function runStep(deps: IncidentDeps, checkpoint: Checkpoint, index: number): Promise<void> {
  const step = (checkpoint.current.steps as StepState[])[index];
  if (step.state === 'done') return;
  await checkpoint.update((d) =>
    Object.assign((d.steps as StepState[])[index], { state: 'running', startedAt: step.startedAt ?? now() }),
  );
  if (step.via === 'importJob') await runHubImportJob(deps, checkpoint, index);
  else await runBatches(deps, checkpoint, index);
  await checkpoint.update((d) =>
    Object.assign((d.steps as StepState[])[index], {
      state: (d.steps as StepState[])[index].errors.length ? 'failed' : 'done',
      finishedAt: now(),
    }),
  );
  const finished = (checkpoint.current.steps as StepState[])[index];
  await emit(deps, 'incident.step', checkpoint.current.id, {
    step: step.name,
    ...(step.name === 'hub' ? { hub: step.hub, path: finished.path } : {}),
    done: finished.done,
  });
}

/** Runs (or resumes) an incident to its end. Safe to call again for the same incident at any point. */
export async function runIncident(deps: IncidentDeps, incidentId: string): Promise<IncidentDocument | undefined> {
  const container = await incidents(deps);
  const doc = await container.read(incidentId, incidentId);
  if (!doc || doc.status === 'contained' || doc.status === 'released') return doc;
  const checkpoint = new Checkpoint(doc, (d) => container.replace(d));
  if (!doc.steps) {
    const resolution = await resolveScope(deps, doc.request);
    const steps = planIncident(doc.request, resolution);
    await checkpoint.update((d) => {
      d.status = 'running';
      d.plannedAt = now();
      d.targets = resolution.targets.length;
      d.notes.push(...resolution.notes);
      d.steps = steps.map((s) => {
        const via = s.name === 'hub' ? hubPath(s, deps.importJobThreshold ?? DEFAULT_IMPORT_JOB_THRESHOLD) : undefined;
        const path =
          via === 'importJob'
            ? `IoT Hub import job (delete mode, ${itemsOf(s).length} devices)`
            : via === 'bulk'
              ? 'bulk registry operations (≤ 100 devices a call)'
              : undefined;
        return { ...s, state: 'pending', done: 0, total: itemsOf(s).length, errors: [], ...(via ? { via, path } : {}) };
      });
    });
  }
  const steps = checkpoint.current.steps as StepState[];
  // Refuse first, then DPS, then every hub in parallel (each within its own throttle), then registration records.
  for (const name of ['deny', 'dps'] as const)
    for (const i of steps.keys()) if (steps[i].name === name) await runStep(deps, checkpoint, i);
  await Promise.all([...steps.keys()].filter((i) => steps[i].name === 'hub').map((i) => runStep(deps, checkpoint, i)));
  for (const i of steps.keys()) if (steps[i].name === 'registrations') await runStep(deps, checkpoint, i);
  await checkpoint.update((d) => {
    d.status = (d.steps as StepState[]).some((s) => s.state === 'failed') ? 'failed' : 'contained';
    d.completedAt = now();
  });
  await emit(deps, `incident.${checkpoint.current.status}`, incidentId, { targets: checkpoint.current.targets });
  return checkpoint.current;
}

/** Lifts a false alarm: re-enables what the incident disabled, removes its deny entries; deleted hub registrations come back when the devices provision again. */
export async function releaseIncident(
  deps: IncidentDeps,
  incidentId: string,
  releasedBy: string,
): Promise<
  { kind: 'released'; incident: IncidentDocument } | { kind: 'notFound' } | { kind: 'conflict'; reason: string }
> {
  const container = await incidents(deps);
  const doc = await container.read(incidentId, incidentId);
  if (!doc) return { kind: 'notFound' };
  if (doc.status === 'released') return { kind: 'released', incident: doc };
  if (doc.status === 'received' || doc.status === 'running')
    return { kind: 'conflict', reason: `incident ${incidentId} is still ${doc.status}; release it once it has run` };
  const dps = await deps.enrollments();
  const hubs = await deps.hubs();
  const store = await deps.store();
  const r = <T>(call: () => Promise<T>) => retryThrottled(call, deps.retry);
  const actor = `release:${incidentId} by ${releasedBy}`;
  for (const u of [...doc.undo].reverse()) {
    if (u.type === 'enableEnrollment' || u.type === 'deleteBlock') {
      const e = await r(() => dps.getEnrollment(u.id));
      if (!e) continue;
      if (u.type === 'deleteBlock') await r(() => dps.deleteEnrollment(u.id));
      else await r(() => dps.putEnrollment({ ...e, provisioningStatus: 'enabled' }));
      await audit(store, {
        actor,
        action: u.type,
        target: { kind: 'enrollment', id: u.id },
        before: { provisioningStatus: e.provisioningStatus },
        after: u.type === 'deleteBlock' ? null : { provisioningStatus: 'enabled' },
      });
    } else if (u.type === 'enableGroup') {
      const g = await r(() => dps.getGroup(u.id));
      if (!g) continue;
      await r(() => dps.putGroup({ ...g, provisioningStatus: 'enabled' }));
      await audit(store, {
        actor,
        action: 'enableEnrollmentGroup',
        target: { kind: 'enrollmentGroup', id: u.id },
        before: { provisioningStatus: g.provisioningStatus },
        after: { provisioningStatus: 'enabled' },
      });
    } else {
      const hub = hubs.hub(u.hub);
      const d = await r(() => hub.getDevice(u.id));
      if (!d) continue;
      await r(() => hub.putDevice({ ...d, status: 'enabled', statusReason: undefined }));
      await audit(store, {
        actor,
        action: 'enableDevice',
        target: { kind: 'device', id: u.id, hub: u.hub },
        before: { status: d.status },
        after: { status: 'enabled' },
      });
    }
  }
  const entries =
    ((doc.steps ?? []).find((s) => s.name === 'deny') as Extract<Step, { name: 'deny' }> | undefined)?.entries ??
    denyEntries(doc.request, { targets: [], groups: [], notes: [] });
  const deny = store.container(CONTAINERS.denyList.name);
  for (const e of entries) await deny.delete(denyKey(e.kind, e.value).replace(/[/\\?#]/g, '_'), e.kind);
  deps.onRelease?.(entries);
  const released = await container.replace({
    ...doc,
    status: 'released',
    releasedAt: now(),
    notes: [...doc.notes, `released by ${releasedBy}`],
  });
  await emit(deps, 'incident.released', incidentId, { by: releasedBy });
  return { kind: 'released', incident: released };
}
