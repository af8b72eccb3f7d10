/**
 * The allocation decision, pure: request + compiled policy + snapshots (deny list, hub load) + now → an outcome
 * with its reasons. Order: refuse if denied (or if the deny list is too old to trust), pick the first matching rule
 * (or the default), keep a re-provisioning device on its hub when the rule is sticky and the hub still qualifies,
 * otherwise take the best-ranked qualifying hub by weighted rendezvous hashing.
 */
import type { TwinState } from '../dps-types';
import type { AllocationRequest, AllocationResponse } from './contract';
import { deniedBy, type DenyEntry, type DenySnapshot } from './deny-list';
import type { CompiledHub, CompiledPolicy, CompiledRule, Scalar } from './policy';
import { rank } from './rendezvous';
import { mergeTwin, render, type TemplateContext } from './templates';

export interface Candidate {
  hostName: string;
  score?: number;
  skipped?: string;
}

export type Outcome =
  | { kind: 'allocate'; response: AllocationResponse; rule: string; reason: string; candidates: Candidate[] }
  | { kind: 'deny'; reason: string; entry: DenyEntry }
  | { kind: 'invalid'; reason: string; rule?: string; candidates?: Candidate[] }
  | { kind: 'unavailable'; reason: string };

export interface Snapshots {
  deny: DenySnapshot;
  /** Registered devices per hub (lower-case host name), from the periodic registry statistics. */
  hubLoad: ReadonlyMap<string, number>;
}

/** With no policy loaded: every linked hub, weight 1, sticky. */
const DEFAULT_RULE = 'default';

function valueAt(obj: unknown, path: string[]): unknown {
  let node = obj;
  for (const p of path) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
  return node;
}

function matches(rule: CompiledRule, request: AllocationRequest): boolean {
  const { deviceRuntimeContext: ctx, enrollmentGroup, individualEnrollment } = request;
  const enrollment = enrollmentGroup ?? individualEnrollment;
  if (rule.groupIds && !(enrollmentGroup && rule.groupIds.has(enrollmentGroup.enrollmentGroupId.toLowerCase()))) return false;
  if (rule.registrationId && !rule.registrationId.test(ctx.registrationId)) return false;
  const tags = enrollment?.initialTwin?.tags ?? {};
  if (rule.tags && !rule.tags.every(([k, v]) => tags[k] === v)) return false;
  if (rule.payload && !rule.payload.every(([path, v]) => valueAt(ctx.payload, path) === (v as Scalar))) return false;
  const x509 = ctx.x509 as { subjectName?: string; issuerName?: string } | undefined;
  if (rule.x509Subject && !(x509?.subjectName && rule.x509Subject.test(x509.subjectName))) return false;
  if (rule.x509Issuer && !(x509?.issuerName && rule.x509Issuer.test(x509.issuerName))) return false;
  return true;
}

function qualify(pool: CompiledHub[], linked: Set<string>, load: ReadonlyMap<string, number>): Array<CompiledHub & { skipped?: string }> {
  return pool.map((hub) => {
    if (!linked.has(hub.key)) return { ...hub, skipped: 'not linked to this registration (DPS linkedHubs)' };
    if (!hub.enabled) return { ...hub, skipped: 'out of rotation (enabled: false)' };
    const count = load.get(hub.key);
    if (hub.capacity !== undefined && count !== undefined && count >= hub.capacity) return { ...hub, skipped: `full (${count} of ${hub.capacity} devices)` };
    return hub;
  });
}

function templateContext(request: AllocationRequest): TemplateContext {
  const { deviceRuntimeContext: ctx, enrollmentGroup, individualEnrollment } = request;
  return {
    registrationId: ctx.registrationId,
    payload: ctx.payload,
    x509: ctx.x509,
    enrollmentGroupId: enrollmentGroup?.enrollmentGroupId,
    tags: (enrollmentGroup ?? individualEnrollment)?.initialTwin?.tags ?? {},
  };
}

export function decide(request: AllocationRequest, policy: CompiledPolicy | undefined, snapshots: Snapshots, now: number): Outcome {
  const maxAge = policy?.denyMaxAgeMs ?? 300_000;
  if ((policy?.failClosed ?? true) && now - snapshots.deny.refreshedAt > maxAge) {
    return { kind: 'unavailable', reason: `deny list snapshot is ${Math.round((now - snapshots.deny.refreshedAt) / 1000)} s old (bound ${maxAge / 1000} s): failing closed, DPS will retry` };
  }
  const denied = deniedBy(snapshots.deny, request);
  if (denied) return { kind: 'deny', reason: `${denied.kind} ${denied.value} is revoked: ${denied.reason}${denied.incidentId ? ` (incident ${denied.incidentId})` : ''}`, entry: denied };

  const { registrationId, currentIotHubHostName } = request.deviceRuntimeContext;
  const linked = new Set(request.linkedHubs.map((h) => h.toLowerCase()));
  const rule = policy?.rules.find((r) => matches(r, request));
  const ruleName = rule?.name ?? (policy?.defaultPool ? `default:${policy.defaultPool.name}` : DEFAULT_RULE);
  const pool: CompiledHub[] = rule?.pool ?? policy?.defaultPool?.hubs ?? request.linkedHubs.map((h) => ({ hostName: h, key: h.toLowerCase(), weight: 1, enabled: true }));
  const qualified = qualify(pool, linked, snapshots.hubLoad);
  const usable = qualified.filter((h) => !h.skipped);
  const ranked = rank(registrationId, usable);
  const candidates: Candidate[] = [
    ...ranked.map((h) => ({ hostName: h.hostName, score: h.score })),
    ...qualified.filter((h) => h.skipped).map((h) => ({ hostName: h.hostName, skipped: h.skipped })),
  ];
  const sticky = (rule?.reprovision ?? 'sticky') === 'sticky';
  const current = currentIotHubHostName?.toLowerCase();
  // A re-provisioning device stays where it is while its hub is linked, in the pool and in rotation (a full hub keeps the devices it already has).
  const keep = sticky && current ? qualified.find((h) => h.key === current && (!h.skipped || h.skipped.startsWith('full'))) : undefined;
  const chosen = keep ?? ranked[0];
  if (!chosen) {
    const why = qualified.every((h) => h.skipped?.startsWith('not linked')) ? `names only hubs that are not linked (${pool.map((h) => h.hostName).join(', ')})` : 'has no hub that can take the device';
    return { kind: 'invalid', reason: `rule ${ruleName} ${why}`, rule: ruleName, candidates };
  }
  const context = templateContext(request);
  const enrollmentTwin = (request.enrollmentGroup ?? request.individualEnrollment)?.initialTwin;
  const twinTemplate = rule ? rule.initialTwin : policy?.defaultTwin;
  const payloadTemplate = rule ? rule.payloadTemplate : policy?.defaultPayload;
  const response: AllocationResponse = { iotHubHostName: request.linkedHubs.find((h) => h.toLowerCase() === chosen.key) ?? chosen.hostName };
  const initialTwin = mergeTwin(enrollmentTwin, twinTemplate && (render(twinTemplate, context) as TwinState));
  if (initialTwin) response.initialTwin = initialTwin;
  if (payloadTemplate !== undefined) response.payload = render(payloadTemplate, context);
  const reason = keep ? `sticky: re-provisioning keeps ${chosen.hostName}` : `${rule ? `rule ${rule.name}` : ruleName}: rendezvous hashing over ${ranked.length} hub(s)`;
  return { kind: 'allocate', response, rule: ruleName, reason, candidates };
}
