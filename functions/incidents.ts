/**
 * Breach containment over HTTP (function key + the Admin role): `POST /api/incidents` reports an incident (202, deny list written at
 * once, the rest queued); `GET /api/incidents/{id}` shows its plan, each step's state, counts and timings;
 * `POST /api/incidents/{id}/release` lifts a false alarm. The worker runs from the `incident-steps` queue, and
 * security tooling can send the same JSON through the `security-alerts` event hub.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { parseIncident } from '../shared/breach/incident';
import { services } from '../shared/composition';
import { CONTAINERS, QUEUES } from '../shared/containers';
import { setting } from '../shared/settings';
import {
  type IncidentDeps,
  type IncidentDocument,
  releaseIncident,
  runIncident,
  submitIncident,
} from '../shared/use-cases/incidents';
import { allocationRuntime } from './edge/allocation-runtime';
import { authorizeAdmin } from './edge/caller';
import { accepted, badRequest, notFound, ok, problem } from './edge/http-response';
import { eventHub, http, storageQueue } from './edge/registry';

function deps(log: (line: string) => void): IncidentDeps {
  const s = services();
  const threshold = Number(setting(process.env, 'hubImportJobThreshold'));
  return {
    ...s,
    importJobThreshold: Number.isFinite(threshold) && threshold > 0 ? threshold : undefined,
    onDeny: (entries) => allocationRuntime().pushDenyEntries(entries),
    onRelease: (entries) => allocationRuntime().removeDenyEntries(entries),
    log,
  };
}

/** What the API shows of an incident: no Cosmos metadata, the undo list as a count, step timings in seconds. */
const view = (doc: IncidentDocument) => ({
  id: doc.id,
  request: doc.request,
  status: doc.status,
  notes: doc.notes,
  targets: doc.targets,
  receivedAt: doc.receivedAt,
  deniedAt: doc.deniedAt,
  plannedAt: doc.plannedAt,
  completedAt: doc.completedAt,
  releasedAt: doc.releasedAt,
  undoable: doc.undo.length,
  steps: doc.steps?.map((s) => ({
    name: s.name,
    ...(s.name === 'hub' ? { hub: s.hub, action: s.action, via: s.via, path: s.path, jobId: s.jobId } : {}),
    state: s.state,
    done: s.done,
    total: s.total,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    errors: s.errors,
    ...(s.startedAt && s.finishedAt ? { seconds: (Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000 } : {}),
  })),
});

async function readJson(request: HttpRequest): Promise<unknown> {
  try {
    return JSON.parse(await request.text());
  } catch {
    return undefined;
  }
}

export async function postIncident(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const body = await readJson(request);
  if (body === undefined) return badRequest('The body is not JSON.');
  const parsed = parseIncident(body);
  if (!parsed.ok) return badRequest(parsed.reason);
  const result = await submitIncident(
    deps((l) => context.log(l)),
    parsed.value,
  );
  if (result.kind === 'conflict') return problem(409, 'Conflict', result.reason);
  const location = `/api/incidents/${encodeURIComponent(parsed.value.id)}`;
  return result.kind === 'duplicate'
    ? ok(view(result.incident), { Location: location })
    : accepted(view(result.incident), location);
}

export async function getIncident(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const id = request.params.id;
  const doc = await (await services().store()).container<IncidentDocument>(CONTAINERS.incidents.name).read(id, id);
  return doc ? ok(view(doc)) : notFound(`no incident ${id}`);
}

export async function postRelease(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const result = await releaseIncident(
    deps((l) => context.log(l)),
    request.params.id,
    auth.caller.principal,
  );
  if (result.kind === 'notFound') return notFound(`no incident ${request.params.id}`);
  if (result.kind === 'conflict') return problem(409, 'Conflict', result.reason);
  return ok(view(result.incident));
}

export async function incidentWorker(message: unknown, context: InvocationContext): Promise<void> {
  const incidentId = (message as { incidentId?: string })?.incidentId;
  if (!incidentId) return context.error(`incident-steps message without incidentId: ${JSON.stringify(message)}`);
  const doc = await runIncident(
    deps((l) => context.log(l)),
    incidentId,
  );
  context.log(`incident ${incidentId}: ${doc?.status ?? 'not found'}`);
}

/** Security alerts from Defender for IoT or a SIEM, in the same JSON as the HTTP body; a re-delivered alert is known by its id. */
export async function incidentAlerts(events: unknown, context: InvocationContext): Promise<void> {
  for (const event of Array.isArray(events) ? events : [events]) {
    const parsed = parseIncident(typeof event === 'string' ? JSON.parse(event) : event);
    if (!parsed.ok) {
      context.error(`security alert refused: ${parsed.reason}`);
      continue;
    }
    const result = await submitIncident(
      deps((l) => context.log(l)),
      parsed.value,
    );
    context.log(`security alert ${parsed.value.id}: ${result.kind}`);
  }
}

http('incidents-post', { route: 'incidents', methods: ['POST'], authLevel: 'function', handler: postIncident });
http('incidents-get', { route: 'incidents/{id}', methods: ['GET'], authLevel: 'function', handler: getIncident });
http('incidents-release', {
  route: 'incidents/{id}/release',
  methods: ['POST'],
  authLevel: 'function',
  handler: postRelease,
});
storageQueue('incident-worker', {
  queueName: QUEUES.incidentSteps,
  connection: 'AzureWebJobsStorage',
  handler: incidentWorker,
});
eventHub('incident-alerts', {
  eventHubName: 'security-alerts',
  consumerGroup: 'dps-lifecycle',
  connection: 'EVENTHUB_CONNECTION',
  cardinality: 'many',
  handler: incidentAlerts,
});
