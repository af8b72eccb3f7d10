/**
 * Breach containment over HTTP (function key + the Admin role): `POST /api/incidents` reports an incident (202: its
 * direct deny entries written at once, resolution and plan queued); `GET /api/incidents/{id}` shows its status, its
 * plan and each step; `POST /api/incidents/{id}/approve | cancel | release` decides, and `…/redrive` tries again the
 * steps that gave up on an outage, or queues a stalled incident's work again. The worker runs from the
 * `incident-steps` queue a bounded share at a time; security tooling sends the same JSON on the `security-alerts`
 * event hub (alerts always wait for approval).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { incidentDeps, incidentRepositories, services } from '../shared/composition';
import { QUEUES } from '../shared/containers';
import { ValidationError } from '../shared/errors';
import {
  advanceIncident,
  connectedNow,
  decideIncident,
  type Decision,
  type DecisionResult,
  type IncidentDeps,
  noteStalled,
  recordRejectedAlert,
  redriveIncident,
  submitIncident,
} from '../shared/incidents';
import { alertRefusal, parseIncident } from '../shared/incidents/rules/incident';
import { allocationRuntime } from './edge/allocation-runtime';
import { authorizeAdmin, authorizeViewer } from './edge/caller';
import { markOnLastDelivery } from './edge/deliveries';
import { readJson } from './edge/http-body';
import { accepted, notFound, ok, problem } from './edge/http-response';
import { incidentView } from './edge/incident-view';
import { eventHub, http, storageQueue } from './edge/registry';

/** Containment's dependencies, with this process's allocation runtime told of deny entries at once. */
const deps = (log: (line: string) => void) =>
  incidentDeps({
    onDeny: (entries) => allocationRuntime().pushDenyEntries(entries),
    onRelease: (entries) => allocationRuntime().removeDenyEntries(entries),
    log,
  });

/** What the API shows of an incident: no lease, no etag, the resolution as its progress. */
const view = incidentView;

/** An incident names identities, not fleets: lists of devices go in as a lot or a CA. */
const MAX_INCIDENT_BYTES = 4 * 1024 * 1024;

export async function postIncident(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const parsed = parseIncident(
    await readJson(request, MAX_INCIDENT_BYTES, 'The body is not JSON: send { id, reason, mode, scope }.'),
  );
  if (!parsed.ok) throw new ValidationError(parsed.reason);
  const result = await submitIncident(
    deps((l) => context.log(l)),
    parsed.value,
    {
      principal: auth.caller.principal,
      source: 'http',
    },
  );
  if (result.kind === 'conflict') return problem(409, 'Conflict', result.reason);
  const location = `/api/incidents/${encodeURIComponent(parsed.value.id)}`;
  return result.kind === 'duplicate'
    ? ok(view(result.incident), { Location: location })
    : accepted(view(result.incident), location);
}

export async function getIncident(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const incident = await (await incidentRepositories(services()).incidents()).get(request.params.id);
  return incident ? ok(view(incident)) : notFound(`no incident ${request.params.id}`);
}

/**
 * Its devices connected per hub now, beside the count kept when it was planned: read from the hubs' service API on
 * each call (only the incident's devices, capped), so the console asks for it less often than for the incident.
 */
export async function getIncidentConnected(
  request: HttpRequest,
  context: InvocationContext,
): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const incident = await (await incidentRepositories(services()).incidents()).get(request.params.id);
  if (!incident) return notFound(`no incident ${request.params.id}`);
  return ok(
    await connectedNow(
      deps((l) => context.log(l)),
      incident,
    ),
  );
}

function decided(decide: (d: IncidentDeps, id: string, by: string) => Promise<DecisionResult>) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const auth = await authorizeAdmin(request);
    if (!auth.ok) return auth.response;
    const result = await decide(
      deps((l) => context.log(l)),
      request.params.id,
      auth.caller.principal,
    );
    if (result.kind === 'notFound') return notFound(`no incident ${request.params.id}`);
    if (result.kind === 'conflict') return problem(409, 'Conflict', result.reason);
    if (result.kind === 'forbidden') return problem(403, 'Forbidden', result.reason);
    return ok(view(result.incident));
  };
}

const decision = (kind: Decision) => decided((d, id, by) => decideIncident(d, id, kind, by));

export const approveIncident = decision('approve');
export const cancelIncident = decision('cancel');
export const releaseIncident = decision('release');
/** An admin's re-drive: any admin (the plan was approved already; nothing new is decided). */
export const redriveIncidentRoute = decided(redriveIncident);

/** One bounded share of an incident's work; the next share is queued while more remains. */
export async function incidentWorker(message: unknown, context: InvocationContext): Promise<void> {
  const incidentId = (message as { incidentId?: string })?.incidentId;
  if (!incidentId) return context.error(`incident-steps message without incidentId: ${JSON.stringify(message)}`);
  const d = deps((l) => context.log(l));
  await markOnLastDelivery(
    context,
    async () => {
      const { incident, more, retryAfterMs } = await advanceIncident(d, incidentId);
      if (more)
        await (await d.queues()).send(QUEUES.incidentSteps, { incidentId }, { visibilityDelayMs: retryAfterMs });
      context.log(`incident ${incidentId}: ${incident?.status ?? 'not found'}${more ? ', more to do' : ''}`);
    },
    async (why, fault) => void (await noteStalled(d, incidentId, why, fault)),
  );
}

/**
 * Security alerts from Defender for IoT or a SIEM, in the same JSON as the HTTP body, each handled on its own: a
 * malformed one, or one asking what an alert may not (alertRefusal: a policy's rotation), is kept as an `alert`
 * finding (ALERT_REJECTED) and the others go on. One that fails while it is handled — a dependency refusing or down —
 * is kept the same way (ALERT_FAILED, with the reason: send it again) and the others go on too: a thrown error would
 * end the batch, and Event Hubs does not deliver it again (review finding 9a). Should even the finding fail, the
 * alert is logged whole as a dead letter. A re-delivered alert is known by its id.
 */
export async function incidentAlerts(events: unknown, context: InvocationContext): Promise<void> {
  const d = deps((l) => context.log(l));
  for (const event of Array.isArray(events) ? events : [events]) {
    const raw = typeof event === 'string' ? event : JSON.stringify(event);
    try {
      await handleAlert(d, event, context);
    } catch (err) {
      const refused = err instanceof ValidationError;
      const reason = refused ? err.message : `not handled: ${err instanceof Error ? err.message : String(err)}`;
      context.error(`security alert ${refused ? 'refused' : 'failed'}: ${reason}`);
      await recordRejectedAlert(d, raw, reason, refused ? 'ALERT_REJECTED' : 'ALERT_FAILED').catch((e: unknown) =>
        context.error(`security alert dead-lettered (its finding failed too: ${String(e)}): ${raw}`),
      );
    }
  }
}

async function handleAlert(d: ReturnType<typeof deps>, event: unknown, context: InvocationContext): Promise<void> {
  let body: unknown;
  try {
    body = typeof event === 'string' ? JSON.parse(event) : event;
  } catch {
    throw new ValidationError('not JSON');
  }
  const parsed = parseIncident(body);
  if (!parsed.ok) throw new ValidationError(parsed.reason);
  const refusal = alertRefusal(parsed.value);
  if (refusal) throw new ValidationError(refusal);
  const result = await submitIncident(d, parsed.value, { principal: 'alert:security-alerts', source: 'alert' });
  context.log(`security alert ${parsed.value.id}: ${result.kind}`);
}

const admin = { authLevel: 'function' as const, methods: ['POST' as const] };
http('incidents-post', { route: 'incidents', ...admin, handler: postIncident });
http('incidents-get', { route: 'incidents/{id}', methods: ['GET'], authLevel: 'function', handler: getIncident });
http('incidents-connected', {
  route: 'incidents/{id}/connected',
  methods: ['GET'],
  authLevel: 'function',
  handler: getIncidentConnected,
});
http('incidents-approve', { route: 'incidents/{id}/approve', ...admin, handler: approveIncident });
http('incidents-cancel', { route: 'incidents/{id}/cancel', ...admin, handler: cancelIncident });
http('incidents-release', { route: 'incidents/{id}/release', ...admin, handler: releaseIncident });
http('incidents-redrive', { route: 'incidents/{id}/redrive', ...admin, handler: redriveIncidentRoute });
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
