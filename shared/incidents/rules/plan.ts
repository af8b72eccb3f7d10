/**
 * From a resolved incident to its plan and its steps (pure). The order keeps the identities out at every moment:
 * refuse first (deny list: the webhook stops admitting at once, written before any plan), then shut the identities
 * out of DPS, then revoke and rotate a compromised ADR policy's CA (the hubs refuse every certificate it issued), then
 * disable (quarantine) or delete (contain) their hub registrations, hub by hub, then disable their ADR registry
 * devices (so they cannot provision again: DPS already refuses them, and disconnecting must not wait on ARM), then —
 * when containing — delete their DPS registration records, which would otherwise count against the DPS quota.
 */
import type { DenyEntry } from '../../allocation';
import { formatCertificatePolicy } from '../../certificate-policy';
import type { IncidentRequest } from './incident';
import type {
  AdrPlan,
  Approval,
  CompromisedCa,
  CompromisedGroup,
  HubPath,
  Incident,
  PlanSummary,
  StepState,
  Target,
} from './model';

export const DEFAULT_IMPORT_JOB_THRESHOLD = 1000;
const SAMPLE = 20;

const lower = (s: string) => s.toLowerCase();

function entry(request: IncidentRequest, kind: DenyEntry['kind'], value: string): DenyEntry {
  return { kind, value, reason: request.reason, incidentId: request.id };
}

/** The identities an incident names one by one: certificates and devices. */
function namedEntries(request: IncidentRequest): DenyEntry[] {
  const { scope } = request;
  return dedupe([
    ...(scope.certificateThumbprints ?? []).map((t) => entry(request, 'thumbprint', t)),
    // A device's ID is its registration ID unless its enrollment says otherwise: refuse it under both names.
    ...[...(scope.registrationIds ?? []), ...(scope.deviceIds ?? [])].map((id) => entry(request, 'registrationId', id)),
  ]);
}

/**
 * The compromised CA as the webhook refuses it, wherever it sits in a device's chain: by its thumbprints (a group's
 * signer, as DPS reports it) and by its subject (the issuer of a certificate it signed: the device's, or a group
 * signer's). Only the subjects of the groups it takes whole otherwise.
 */
function caEntries(request: IncidentRequest, caGroups: CompromisedGroup[], ca: CompromisedCa | undefined) {
  return [
    ...[ca?.sha1Thumbprint, ca?.sha256Thumbprint].flatMap((t) => (t ? [entry(request, 'caThumbprint', t)] : [])),
    ...(ca?.subject ? [entry(request, 'issuer', ca.subject)] : []),
    ...caGroups
      .filter((g) => g.caSubject && g.relation !== 'issuedByCa')
      .map((g) => entry(request, 'issuer', g.caSubject)),
  ];
}

/** Everything the incident refuses from its scope alone: named identities, the CA, the group it names. */
export function directDenyEntries(
  request: IncidentRequest,
  caGroups: CompromisedGroup[],
  ca?: CompromisedCa,
): DenyEntry[] {
  const { scope } = request;
  const named = namedEntries(request);
  return dedupe([
    ...named.filter((e) => e.kind === 'thumbprint'),
    ...caEntries(request, caGroups, ca),
    ...(scope.enrollmentGroupId ? [entry(request, 'enrollmentGroupId', scope.enrollmentGroupId)] : []),
    ...named.filter((e) => e.kind !== 'thumbprint'),
  ]);
}

/**
 * What an incident refuses the moment it is accepted. An operator's (HTTP) refuses everything its scope names; an
 * alert only the certificates and devices it names one by one, at most `alertCap` of them: whoever can write to the
 * alert hub must not be able to shut a group, a CA or a lot out of provisioning with no human involved.
 */
export function immediateDenyEntries(
  incident: Pick<Incident, 'request' | 'source'>,
  caGroups: CompromisedGroup[],
  ca: CompromisedCa | undefined,
  alertCap: number,
): DenyEntry[] {
  if (incident.source === 'http') return directDenyEntries(incident.request, caGroups, ca);
  return namedEntries(incident.request).slice(0, alertCap);
}

/** What the incident refuses for the devices resolution found. */
export function targetDenyEntries(request: IncidentRequest, targets: Target[]): DenyEntry[] {
  return dedupe(targets.map((t) => entry(request, 'registrationId', t.registrationId)));
}

function dedupe(entries: DenyEntry[]): DenyEntry[] {
  const seen = new Map<string, DenyEntry>();
  for (const e of entries) seen.set(`${e.kind}:${lower(e.value)}`, seen.get(`${e.kind}:${lower(e.value)}`) ?? e);
  return [...seen.values()];
}

export type DpsAction =
  { type: 'disableEnrollment'; registrationId: string } | { type: 'blockGroupDevice'; registrationId: string };

/** Groups disabled whole: the compromised CA's, and the one the scope names (unless DPS has no such group). */
export function groupsToDisable(
  request: IncidentRequest,
  caGroups: CompromisedGroup[],
  missingGroups: readonly string[] = [],
): string[] {
  const ids = new Map<string, string>();
  for (const g of caGroups) ids.set(lower(g.enrollmentGroupId), g.enrollmentGroupId);
  if (request.scope.enrollmentGroupId) ids.set(lower(request.scope.enrollmentGroupId), request.scope.enrollmentGroupId);
  for (const missing of missingGroups) ids.delete(lower(missing));
  return [...ids.values()];
}

/** One device's DPS action: its individual enrollment disabled, or — in a group left enabled — a block of its own. */
export function dpsActionFor(target: Target, disabledGroups: ReadonlySet<string>): DpsAction | undefined {
  if (target.via === 'individual') return { type: 'disableEnrollment', registrationId: target.registrationId };
  if (target.via === 'group' && !(target.enrollmentGroupId && disabledGroups.has(lower(target.enrollmentGroupId))))
    return { type: 'blockGroupDevice', registrationId: target.registrationId };
  return undefined;
}

/**
 * The documented path for deleting far more devices than the registry throttle allows in minutes is an IoT Hub
 * import job in delete mode. Above `threshold` devices on one hub, containment takes it; disabling (quarantine)
 * always goes in bulk, since an import job would need each device's whole identity.
 */
export function hubPath(action: 'disable' | 'delete', devices: number, threshold: number): HubPath {
  return action === 'delete' && devices > threshold ? 'importJob' : 'bulk';
}

const progress = (total: number) => ({ state: 'pending' as const, done: 0, total, page: 0, offset: 0, errors: [] });

/** The group that disallows a CA in DPS: disabled, holding the CA's certificate; one per CA, whoever needs it. */
export const disallowGroupId = (sha256Thumbprint: string) => `disallow-ca-${sha256Thumbprint.toLowerCase()}`;

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

export interface ApprovalRules {
  /** Plans of at most this many devices, disabling no group and no CA, are small. */
  maxDevices: number;
  /** A plan that is not small needs an admin other than its submitter. */
  fourEyes: boolean;
}

/**
 * Who lets a plan run. A small plan an admin submitted over HTTP runs at once; a plan that disables a group or a CA,
 * or reaches more devices than `maxDevices`, waits for an admin other than its submitter (with four eyes on); an
 * alert's plan always waits for an admin. What counts is what the plan disables, not what is registered: a group with
 * no registrations is still a group.
 */
export function approvalFor(plan: PlanSummary, source: Incident['source'], rules: ApprovalRules): Approval {
  const wide = [
    ...(plan.groupsToDisable.length ? [`disables ${plan.groupsToDisable.length} enrollment group(s)`] : []),
    ...(plan.disallowCa ? ['disallows a CA in DPS'] : []),
    ...(plan.adr?.revokeAndRotate
      ? [
          `revokes and rotates ADR certificate authority ${plan.adr.revokeAndRotate.certificateAuthorityName} (irreversible)`,
        ]
      : []),
    ...(plan.devices > rules.maxDevices ? [`reaches ${plan.devices} devices (more than ${rules.maxDevices})`] : []),
  ];
  if (wide.length)
    return {
      auto: false,
      otherAdmin: rules.fourEyes,
      why: `the plan ${wide.join(', ')}: ${rules.fourEyes ? 'an admin other than its submitter' : 'an admin'} approves it`,
    };
  if (source === 'alert')
    return { auto: false, otherAdmin: false, why: 'a security alert never runs on its own: an admin approves it' };
  return {
    auto: true,
    otherAdmin: false,
    why: `${plan.devices} ≤ ${rules.maxDevices} devices and no group or CA: runs without waiting`,
  };
}
