/**
 * The allocation decision, pure: request + compiled policy + snapshots (deny list, hub load) + now → an outcome
 * with its reasons. Order: refuse if denied, pick the first matching rule (or the default), keep a re-provisioning
 * device on its hub when the rule is sticky and the hub still qualifies, otherwise take the best-ranked qualifying hub
 * by weighted rendezvous hashing — and answer "try again" (503) instead of a hub when the deny list is too old to trust.
 */
import type { TwinState } from '../../dps-types';
import type { AllocationRequest, AllocationResponse } from './contract';
import { deniedBy, type DenyEntry, type DenySnapshot } from './deny-list';
import type { CompiledHub, CompiledPolicy, CompiledRule, Scalar } from './policy';
import { scorer } from './rendezvous';
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
  for (const p of path)
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[p] : undefined;
  return node;
}

/** What the rules look at, computed once per request. */
interface Facts {
  registrationId: string;
  tags: Record<string, unknown>;
  payload: unknown;
  x509?: { subjectName?: string; issuerName?: string };
  /** The enrollment's ADR certificate policy name, lower case (DPS 2026-11-01 shows it). */
  certificatePolicyName?: string;
}

function matches(rule: CompiledRule, facts: Facts): boolean {
  if (rule.registrationId && !rule.registrationId.test(facts.registrationId)) return false;
  if (rule.tags && !rule.tags.every(([k, v]) => facts.tags[k] === v)) return false;
  if (rule.payload && !rule.payload.every(([path, v]) => valueAt(facts.payload, path) === (v as Scalar))) return false;
  if (rule.x509Subject && !(facts.x509?.subjectName && rule.x509Subject.test(facts.x509.subjectName))) return false;
  if (rule.x509Issuer && !(facts.x509?.issuerName && rule.x509Issuer.test(facts.x509.issuerName))) return false;
  if (
    rule.certificatePolicies &&
    !(facts.certificatePolicyName && rule.certificatePolicies.has(facts.certificatePolicyName))
  )
    return false;
  return true;
}

/** The first rule in document order that matches, visiting only the rules of the request's group and those naming no group. */
function firstMatch(policy: CompiledPolicy, request: AllocationRequest): CompiledRule | undefined {
  const { deviceRuntimeContext: ctx, enrollmentGroup, individualEnrollment } = request;
  const enrollment = enrollmentGroup ?? individualEnrollment;
  const facts: Facts = {
    registrationId: ctx.registrationId,
    tags: enrollment?.initialTwin?.tags ?? {},
    payload: ctx.payload,
    x509: ctx.x509 as Facts['x509'],
    certificatePolicyName: enrollment?.certificatePolicyName?.toLowerCase(),
  };
  const grouped = enrollmentGroup
    ? (policy.rulesByGroup.get(enrollmentGroup.enrollmentGroupId.toLowerCase()) ?? [])
    : [];
  const ungrouped = policy.ungroupedRules;
  let i = 0;
  let j = 0;
  while (i < grouped.length || j < ungrouped.length) {
    const next =
      j >= ungrouped.length || (i < grouped.length && grouped[i].index < ungrouped[j].index)
        ? grouped[i++]
        : ungrouped[j++];
    if (matches(next, facts)) return next;
  }
  return undefined;
}

function skipReason(hub: CompiledHub, linked: Set<string>, load: ReadonlyMap<string, number>): string | undefined {
  if (!linked.has(hub.key)) return 'not linked to this registration (DPS linkedHubs)';
  if (!hub.enabled) return 'out of rotation (enabled: false)';
  const count = load.get(hub.key);
  if (hub.capacity !== undefined && count !== undefined && count >= hub.capacity)
    return `full (${count} of ${hub.capacity} devices)`;
  return undefined;
}

interface Choice {
  best?: CompiledHub;
  /** The device's current hub, when it may stay there (linked, in the pool, in rotation; a full hub keeps its own). */
  current?: CompiledHub;
  usable: number;
  allUnlinked: boolean;
  candidates: Candidate[];
}

/** One pass over the pool: the best usable hub by rendezvous score, without sorting or copying on the hot path. */
function choose(
  pool: CompiledHub[],
  request: AllocationRequest,
  load: ReadonlyMap<string, number>,
  explain: boolean,
): Choice {
  const linked = new Set(request.linkedHubs.map((h) => h.toLowerCase()));
  const currentKey = request.deviceRuntimeContext.currentIotHubHostName?.toLowerCase();
  const scoreOf = scorer(request.deviceRuntimeContext.registrationId);
  const choice: Choice = { usable: 0, allUnlinked: true, candidates: [] };
  let bestScore = -Infinity;
  const skipped: Candidate[] = [];
  for (const hub of pool) {
    const reason = skipReason(hub, linked, load);
    if (hub.key === currentKey && (!reason || reason.startsWith('full'))) choice.current = hub;
    if (!reason?.startsWith('not linked')) choice.allUnlinked = false;
    if (reason) {
      if (explain) skipped.push({ hostName: hub.hostName, skipped: reason });
      continue;
    }
    const s = scoreOf(hub);
    choice.usable++;
    if (explain) choice.candidates.push({ hostName: hub.hostName, score: s });
    if (s > bestScore || (s === bestScore && choice.best && hub.hostName < choice.best.hostName)) {
      bestScore = s;
      choice.best = hub;
    }
  }
  if (explain) choice.candidates = [...choice.candidates.sort((a, b) => (b.score ?? 0) - (a.score ?? 0)), ...skipped];
  return choice;
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

/**
 * Why the deny list is too old to allocate from, or undefined while it is fresh enough (the policy's
 * `denyList.maxAgeSeconds`, 300 s unless set; `failClosed: false` allocates from a snapshot of any age).
 */
function staleness(policy: CompiledPolicy | undefined, deny: DenySnapshot, now: number): string | undefined {
  const maxAge = policy?.denyMaxAgeMs ?? 300_000;
  if (!(policy?.failClosed ?? true) || now - deny.refreshedAt <= maxAge) return undefined;
  if (deny.refreshedAt === 0)
    return 'no deny list snapshot has been loaded yet (its store is unreachable): failing closed, DPS will retry';
  return `deny list snapshot is ${Math.round((now - deny.refreshedAt) / 1000)} s old (bound ${maxAge / 1000} s): failing closed, DPS will retry`;
}

/**
 * `explain` also lists every candidate with its score or the reason it was skipped (off on the hot path).
 *
 * A stale deny list only withholds hubs: what the snapshot names is still refused (403 — an entry leaves only when
 * its incident is released, so refusing it is the side to err on), and a request no hub could take is still a 400,
 * since whatever the list says the answer would be a refusal. Only a device that would be allocated gets the 503.
 */
export function decide(
  request: AllocationRequest,
  policy: CompiledPolicy | undefined,
  snapshots: Snapshots,
  now: number,
  explain = false,
): Outcome {
  const denied = deniedBy(snapshots.deny, request);
  if (denied)
    return {
      kind: 'deny',
      reason: `${denied.kind} ${denied.value} is revoked: ${denied.reason}${denied.incidentId ? ` (incident ${denied.incidentId})` : ''}`,
      entry: denied,
    };
  const outcome = byRules(request, policy, snapshots.hubLoad, explain);
  const stale = outcome.kind === 'allocate' ? staleness(policy, snapshots.deny, now) : undefined;
  return stale ? { kind: 'unavailable', reason: stale } : outcome;
}

/** The hub the policy picks for a device the deny list lets through, or why none can take it. */
function byRules(
  request: AllocationRequest,
  policy: CompiledPolicy | undefined,
  hubLoad: ReadonlyMap<string, number>,
  explain: boolean,
): Extract<Outcome, { kind: 'allocate' | 'invalid' }> {
  const rule = policy && firstMatch(policy, request);
  const ruleName = rule?.name ?? (policy?.defaultPool ? `default:${policy.defaultPool.name}` : DEFAULT_RULE);
  const pool: CompiledHub[] =
    rule?.pool ??
    policy?.defaultPool?.hubs ??
    request.linkedHubs.map((h) => ({ hostName: h, key: h.toLowerCase(), weight: 1, enabled: true }));
  const choice = choose(pool, request, hubLoad, explain);
  const keep = (rule?.reprovision ?? 'sticky') === 'sticky' ? choice.current : undefined;
  const chosen = keep ?? choice.best;
  const candidates = choice.candidates;
  if (!chosen) {
    const why = choice.allUnlinked
      ? `names only hubs that are not linked (${pool.map((h) => h.hostName).join(', ')})`
      : 'has no hub that can take the device';
    return { kind: 'invalid', reason: `rule ${ruleName} ${why}`, rule: ruleName, candidates };
  }
  const context = templateContext(request);
  const enrollmentTwin = (request.enrollmentGroup ?? request.individualEnrollment)?.initialTwin;
  const twinTemplate = rule ? rule.initialTwin : policy?.defaultTwin;
  const payloadTemplate = rule ? rule.payloadTemplate : policy?.defaultPayload;
  const response: AllocationResponse = {
    iotHubHostName: request.linkedHubs.find((h) => h.toLowerCase() === chosen.key) ?? chosen.hostName,
  };
  const initialTwin = mergeTwin(enrollmentTwin, twinTemplate && (render(twinTemplate, context) as TwinState));
  if (initialTwin) response.initialTwin = initialTwin;
  if (payloadTemplate !== undefined) response.payload = render(payloadTemplate, context);
  const reason = keep
    ? `sticky: re-provisioning keeps ${chosen.hostName}`
    : `${rule ? `rule ${rule.name}` : ruleName}: rendezvous hashing over ${choice.usable} hub(s)`;
  return { kind: 'allocate', response, rule: ruleName, reason, candidates };
}
