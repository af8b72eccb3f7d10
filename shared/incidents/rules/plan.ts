/**
 * From a resolved incident to its plan and its steps (pure). The order keeps the identities out at every moment:
 * refuse first (deny list: the webhook stops admitting at once, written before any plan), then shut the identities
 * out of DPS, then revoke and rotate a compromised ADR policy's CA (the hubs refuse every certificate it issued), then
 * disable (quarantine) or delete (contain) their hub registrations, hub by hub, then disable their ADR registry
 * devices (so they cannot provision again: DPS already refuses them, and disconnecting must not wait on ARM), then —
 * when containing — delete their DPS registration records, which would otherwise count against the DPS quota.
 */
import { formatCertificatePolicy } from '../../certificate-policy';
import type { IncidentRequest } from './incident';
import type { Incident } from './model';
import type { AdrPlan, PlanSummary } from './plan-summary';
import type { CompromisedCa, CompromisedGroup, Target } from './resolution';
import type { StepState } from './step-state';
import { disallowGroupId, dpsActionFor, groupsToDisable, hubPath } from './target-actions';

export const DEFAULT_IMPORT_JOB_THRESHOLD = 1000;
const SAMPLE = 20;

const lower = (s: string) => s.toLowerCase();

const progress = (total: number) => ({ state: 'pending' as const, done: 0, total, page: 0, offset: 0, errors: [] });

/** Where a target was not found at all: named, but no enrollment, registration or hub device answers to it. */
const notFound = (t: Target) => t.via === 'none' && !t.hub;

/** The plan an operator approves, and the steps that carry it out, from every page of targets. */
export function planIncident(
  request: IncidentRequest,
  caGroups: CompromisedGroup[],
  pages: Iterable<Target[]>,
  importJobThreshold = DEFAULT_IMPORT_JOB_THRESHOLD,
  options: {
    ca?: CompromisedCa;
    source?: Incident['source'];
    missingGroups?: readonly string[];
    /** The ADR namespace DPS is linked to, when the backend administers one: its registry devices are checked. */
    adrNamespace?: string;
  } = {},
): { plan: PlanSummary; steps: StepState[] } {
  const groups = groupsToDisable(request, caGroups, options.missingGroups);
  const disabled = new Set(groups.map(lower));
  const action = request.mode === 'contain' ? 'delete' : 'disable';
  const devices = new Set<string>();
  const perHub = new Map<string, Set<string>>();
  const hubItems = new Map<string, number>();
  const sample: string[] = [];
  let withoutHub = 0;
  let enrollments = 0;
  let blocks = 0;
  let dpsItems = 0;
  let records = 0;
  let registryItems = 0;
  let targetCount = 0;
  const missing: string[] = [];
  let missingCount = 0;
  for (const page of pages) {
    targetCount += page.length;
    for (const t of page) {
      const act = dpsActionFor(t, disabled);
      if (act) dpsItems++;
      if (t.hub && t.deviceId) {
        hubItems.set(t.hub, (hubItems.get(t.hub) ?? 0) + 1);
        records++;
      }
      if (t.deviceId) registryItems++;
      const key = lower(t.registrationId);
      if (devices.has(key)) continue;
      devices.add(key);
      if (sample.length < SAMPLE) sample.push(t.registrationId);
      if (notFound(t) && missingCount++ < SAMPLE) missing.push(t.registrationId);
      if (act?.type === 'disableEnrollment') enrollments++;
      if (act?.type === 'blockGroupDevice') blocks++;
      if (t.hub && t.deviceId) {
        const onHub = perHub.get(t.hub) ?? new Set<string>();
        perHub.set(t.hub, onHub.add(lower(t.deviceId)));
      } else withoutHub++;
    }
  }
  const hubs = [...perHub.keys()].sort();
  const hubActions = hubs.map((hub) => {
    const count = (perHub.get(hub) as Set<string>).size;
    return { hub, action, devices: count, path: hubPath(action, count, importJobThreshold) } as const;
  });
  const { ca, source } = options;
  const disallowCa =
    (ca?.pem || ca?.disallowedInDps) && ca.sha256Thumbprint
      ? { enrollmentGroupId: disallowGroupId(ca.sha256Thumbprint), thumbprint: ca.sha256Thumbprint }
      : undefined;
  const adr = adrPlanOf(request, options.adrNamespace, registryItems);
  const steps: StepState[] = [];
  // An alert refused only what it named; the rest of its refusals wait for this approved step, before anything else.
  if (source === 'alert') steps.push({ kind: 'refuse', ...progress(targetCount + 1) });
  if (dpsItems || groups.length)
    steps.push({ kind: 'dps', groupsToDisable: groups, groupsDone: 0, ...progress(dpsItems + groups.length) });
  const policy = request.scope.certificatePolicy;
  if (policy)
    steps.push({
      kind: 'adrRotate',
      namespaceName: policy.namespaceName,
      certificateAuthorityName: policy.certificateAuthorityName,
      certificatePolicy: formatCertificatePolicy(policy),
      ...progress(1),
    });
  for (const h of hubActions)
    steps.push({ kind: 'hub', hub: h.hub, action, path: h.path, ...progress(hubItems.get(h.hub) ?? 0) });
  // After the hubs: DPS already refuses these devices, and disconnecting them must not wait on ARM.
  if (adr && registryItems)
    steps.push({ kind: 'adrDevices', namespaceName: adr.namespaceName, ...progress(registryItems) });
  if (request.mode === 'contain' && records) steps.push({ kind: 'registrations', ...progress(records) });
  const plan: PlanSummary = {
    devices: devices.size,
    perHub: Object.fromEntries(hubs.map((h) => [h, (perHub.get(h) as Set<string>).size])),
    withoutHub,
    enrollmentsToDisable: enrollments,
    groupDevicesToBlock: blocks,
    groupsToDisable: groups,
    hubActions,
    deleteRegistrationRecords: request.mode === 'contain' ? devices.size - withoutHub : 0,
    ...(disallowCa ? { disallowCa } : {}),
    sample,
    notFound: { count: missingCount, sample: missing },
    ...(adr ? { adr } : {}),
  };
  return { plan, steps };
}

/** What the plan does in ADR: registry devices checked where a namespace is administered, a named policy's CA rotated. */
function adrPlanOf(request: IncidentRequest, namespace: string | undefined, devices: number): AdrPlan | undefined {
  const policy = request.scope.certificatePolicy;
  const namespaceName = policy?.namespaceName ?? namespace;
  if (!namespaceName) return undefined;
  return {
    namespaceName,
    devicesToCheck: namespace ? devices : 0,
    ...(policy
      ? {
          revokeAndRotate: {
            certificatePolicy: formatCertificatePolicy(policy),
            certificateAuthorityName: policy.certificateAuthorityName,
            irreversible: true as const,
            warning: `IRREVERSIBLE: certificate authority ${policy.namespaceName}/${policy.certificateAuthorityName} is revoked and replaced by a new key and certificate; the hubs stop accepting every certificate it issued, and its devices must provision again (or renew) for a certificate of the new one. Releasing this incident does not undo it.`,
          },
        }
      : {}),
  };
}

/** Nothing of the scope was found: no device, no group, no CA certificate to disallow. Never reported contained. */
export function foundNothing(plan: PlanSummary): boolean {
  return (
    plan.devices - plan.notFound.count === 0 &&
    plan.groupsToDisable.length === 0 &&
    !plan.disallowCa &&
    !plan.adr?.revokeAndRotate
  );
}
