/**
 * The phases of an incident's resolution, each a bounded slice (one DPS page, or 50 named IDs) that answers what it
 * found and where the next slice starts: the CA's groups, the IDs the scope names, the members of the groups it
 * reaches, the devices the CA issued, the individual enrollments it matches, the named devices found only on a hub.
 */
import { denyKey } from '../allocation';
import type { DeviceRegistrationState, IndividualEnrollment, X509Certificates } from '../dps-types';
import type { EnrollmentsPort } from '../ports';
import { type IncidentDeps, lower, type withRetry } from './deps';
import { firstResolution } from './first-resolution';
import { byDeviceId, byRegistrationId, onHubs } from './named-targets';
import { normalizeThumbprint } from './rules/incident';
import type { Incident } from './rules/model';
import type { ResolutionCursor, Target } from './rules/resolution';

const DPS_PAGE = 100;
/** IDs named in the scope looked up per checkpoint. */
const IDS_PER_SLICE = 50;

/** The certificates of a slot pair, by their thumbprints (both kinds, normalised) and issuer. */
function certificates(slots: X509Certificates | undefined): Array<{ thumbs: string[]; issuer?: string }> {
  return [slots?.primary?.info, slots?.secondary?.info].flatMap((info) =>
    info
      ? [
          {
            thumbs: [info.sha1Thumbprint, info.sha256Thumbprint].filter(Boolean).map(normalizeThumbprint),
            issuer: info.issuerName,
          },
        ]
      : [],
  );
}

export interface Slice {
  targets: Target[];
  notes: string[];
  next: ResolutionCursor;
}

/** What a phase of the resolution works with. */
export interface SliceContext {
  deps: IncidentDeps;
  incident: Incident;
  dps: EnrollmentsPort;
  r: ReturnType<typeof withRetry>;
  scope: Incident['request']['scope'];
  cursor: ResolutionCursor;
  notes: string[];
  move: (phase: ResolutionCursor['phase'], extra?: Partial<ResolutionCursor>) => ResolutionCursor;
}

async function caGroupsSlice({ deps, incident }: SliceContext): Promise<Slice> {
  const first = await firstResolution(deps, incident);
  return { targets: [], notes: first.notes, next: first.resolution };
}

async function idsSlice({ deps, dps, scope, cursor, notes, move }: SliceContext): Promise<Slice> {
  const named = [
    ...(scope.registrationIds ?? []).map((id) => ({ id, kind: 'registration' as const })),
    ...(scope.deviceIds ?? []).map((id) => ({ id, kind: 'device' as const })),
  ];
  const slice = named.slice(cursor.index, cursor.index + IDS_PER_SLICE);
  const found = await Promise.all(
    slice.map((n) => (n.kind === 'device' ? byDeviceId(dps, deps, n.id) : byRegistrationId(dps, deps, n.id))),
  );
  const targets = found.filter((t): t is Target => !!t);
  for (const t of targets)
    if (t.via === 'none') notes.push(`${t.registrationId}: no enrollment or registration found; denied only`);
  const unmatchedDeviceIds = [
    ...(cursor.unmatchedDeviceIds ?? []),
    ...slice.filter((_, i) => !found[i]).map((n) => n.id),
  ];
  const index = cursor.index + slice.length;
  return {
    targets,
    notes,
    next: index < named.length ? { ...cursor, index, unmatchedDeviceIds } : move('members', { unmatchedDeviceIds }),
  };
}

async function membersSlice({ dps, r, cursor, notes, move }: SliceContext): Promise<Slice> {
  const groupId = cursor.memberGroups[cursor.index];
  if (groupId === undefined) return { targets: [], notes, next: move('caMembers') };
  const page = await r(() => dps.queryGroupRegistrations(groupId, DPS_PAGE, cursor.continuationToken));
  const targets = (page.items as DeviceRegistrationState[]).map((s) => ({
    registrationId: s.registrationId,
    deviceId: s.deviceId,
    hub: s.assignedHub,
    via: 'group' as const,
    enrollmentGroupId: groupId,
  }));
  const next = page.continuationToken
    ? { ...cursor, continuationToken: page.continuationToken }
    : { ...cursor, index: cursor.index + 1, continuationToken: undefined };
  return { targets, notes, next };
}

async function caMembersSlice({ deps, dps, r, cursor, notes, move }: SliceContext): Promise<Slice> {
  // Devices that presented a certificate the CA signed, whichever group admitted them (one above the CA
  // included): the inventory learns each device certificate the webhook sees, with its issuer.
  if (!cursor.ca?.subject) return { targets: [], notes, next: move('enrollments') };
  const inventory = await deps.certificates();
  const key = denyKey('issuer', cursor.ca.subject);
  const page = await r(() => inventory.issuedBy(key, DPS_PAGE, cursor.continuationToken));
  const usages = page.items.flatMap((c) => c.usages.filter((u) => u.kind === 'device'));
  const targets = await Promise.all(usages.map((u) => byRegistrationId(dps, deps, u.id)));
  const next = page.continuationToken ? { ...cursor, continuationToken: page.continuationToken } : move('enrollments');
  return { targets, notes, next };
}

async function enrollmentsSlice({ dps, r, scope, cursor, notes, move }: SliceContext): Promise<Slice> {
  const unmatched = new Map((cursor.unmatchedDeviceIds ?? []).map((id) => [lower(id), id]));
  const caSubject = cursor.ca?.subject && denyKey('issuer', cursor.ca.subject);
  if (!scope.certificateThumbprints && !scope.lot && !caSubject && unmatched.size === 0)
    return { targets: [], notes, next: move('hubDevices') };
  const wanted = new Set(scope.certificateThumbprints ?? []);
  const page = await r(() => dps.queryEnrollments(DPS_PAGE, cursor.continuationToken));
  const found = (page.items as IndividualEnrollment[]).filter((e) => {
    const byCert = certificates(e.attestation.x509?.clientCertificates).some(
      (c) =>
        c.thumbs.some((t) => wanted.has(t)) || (!!caSubject && !!c.issuer && denyKey('issuer', c.issuer) === caSubject),
    );
    const tags = e.initialTwin?.tags as Record<string, unknown> | undefined;
    const byLot = !!scope.lot && tags?.manufacturer === scope.lot.manufacturer && tags?.lot === scope.lot.lot;
    const byDevice = !!e.deviceId && unmatched.has(lower(e.deviceId));
    return byCert || byLot || byDevice;
  });
  for (const e of found) if (e.deviceId) unmatched.delete(lower(e.deviceId));
  const targets = await Promise.all(
    found.map(async (e) => {
      const state = await r(() => dps.getRegistrationState(e.registrationId));
      return {
        registrationId: e.registrationId,
        deviceId: state?.deviceId ?? e.deviceId,
        hub: state?.assignedHub,
        via: 'individual' as const,
      };
    }),
  );
  const unmatchedDeviceIds = [...unmatched.values()];
  const next = page.continuationToken
    ? { ...cursor, continuationToken: page.continuationToken, unmatchedDeviceIds }
    : move('hubDevices', { unmatchedDeviceIds });
  return { targets, notes, next };
}

async function hubDevicesSlice({ deps, cursor, notes, move }: SliceContext): Promise<Slice> {
  const unmatched = cursor.unmatchedDeviceIds ?? [];
  const slice = unmatched.slice(cursor.index, cursor.index + IDS_PER_SLICE);
  const hubs = await deps.hubs();
  const targets = await Promise.all(slice.map((id) => onHubs(hubs, deps, id)));
  for (const t of targets)
    notes.push(
      t.hub
        ? `${t.registrationId}: on ${t.hub} with no enrollment in DPS; its hub registration is handled, DPS has nothing to shut`
        : `${t.registrationId}: no enrollment, registration or hub device found; denied only`,
    );
  const index = cursor.index + slice.length;
  return { targets, notes, next: index < unmatched.length ? { ...cursor, index } : move('done') };
}

async function doneSlice({ cursor, notes }: SliceContext): Promise<Slice> {
  return { targets: [], notes, next: cursor };
}

/** Each phase of the resolution, in the order the cursor moves through them. */
export const SLICES: Record<ResolutionCursor['phase'], (c: SliceContext) => Promise<Slice>> = {
  caGroups: caGroupsSlice,
  ids: idsSlice,
  members: membersSlice,
  caMembers: caMembersSlice,
  enrollments: enrollmentsSlice,
  hubDevices: hubDevicesSlice,
  done: doneSlice,
};
