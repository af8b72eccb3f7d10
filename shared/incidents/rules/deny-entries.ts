/**
 * What an incident refuses in the allocation webhook (pure): the identities its scope names, the CA it names, the
 * devices resolution found — each once, whatever its case.
 */
import type { DenyEntry } from '../../allocation';
import type { IncidentRequest } from './incident';
import type { Incident } from './model';
import type { CompromisedCa, CompromisedGroup, Target } from './resolution';

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
