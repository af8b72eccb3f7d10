/**
 * The allocation policy as data: pools of hubs and ordered rules, validated against a JSON Schema at load (with
 * every error's path in the message) and compiled once (regexes built, names lower-cased) for the hot path.
 */
import type { ErrorObject } from 'ajv';

import type { TwinState } from '../../dps-types';
import { validatePolicy } from '../../generated/config-validators';

export interface HubSpec {
  hostName: string;
  /** 1–1000, as DPS's own hub weights; default 1. */
  weight?: number;
  /** Devices at or above this count mark the hub full (from the hub-load snapshot). */
  capacity?: number;
  /** false takes the hub out of rotation (DPS's "apply allocation policy" unchecked). */
  enabled?: boolean;
}

export type Scalar = string | number | boolean;

export interface RuleMatch {
  enrollmentGroupId?: string | string[];
  registrationIdPattern?: string;
  /** Equality on the enrollment's own initial-twin tags. */
  tags?: Record<string, Scalar>;
  /** Equality on fields of the device's registration payload (dot paths: `firmware.channel`). */
  payload?: Record<string, Scalar>;
  x509Subject?: string;
  x509Issuer?: string;
  /**
   * The ADR certificate policy the enrollment names (DPS 2026-11-01: DPS shows it to the webhook only when the
   * enrollment's customAllocationDefinition.apiVersion is 2026-11-01), one of these names, compared without case.
   */
  certificatePolicyName?: string | string[];
}

export interface Rule {
  name: string;
  match: RuleMatch;
  pool: string;
  /** sticky (default): a re-provisioning device keeps its hub while the pool allows it; migrate: re-hash. */
  reprovision?: 'sticky' | 'migrate';
  /** Templates: `{{registrationId}}`, `{{payload.modelId}}`, `{{tags.lot}}`, `{{enrollmentGroupId}}`, `{{x509.subjectName}}`. */
  initialTwin?: TwinState;
  payload?: unknown;
}

export interface PolicyDocument {
  id: string;
  pools: Record<string, { hubs: HubSpec[] }>;
  rules: Rule[];
  default?: { pool?: string; initialTwin?: TwinState; payload?: unknown };
  denyList?: { maxAgeSeconds?: number; failClosed?: boolean };
}

export interface CompiledHub extends Required<Omit<HubSpec, 'capacity'>> {
  capacity?: number;
  key: string;
}

export interface CompiledRule {
  /** Position in the document: the first matching rule wins. */
  index: number;
  name: string;
  groupIds?: Set<string>;
  registrationId?: RegExp;
  tags?: Array<[string, Scalar]>;
  payload?: Array<[string[], Scalar]>;
  x509Subject?: RegExp;
  x509Issuer?: RegExp;
  /** Lower-cased certificate policy names, one of which the enrollment must name. */
  certificatePolicies?: ReadonlySet<string>;
  pool: CompiledHub[];
  poolName: string;
  reprovision: 'sticky' | 'migrate';
  initialTwin?: TwinState;
  payloadTemplate?: unknown;
}

export interface CompiledPolicy {
  id: string;
  rules: CompiledRule[];
  /** Rules that name enrollment groups, by lower-cased group ID, and the rules that name none: a request only visits its own. */
  rulesByGroup: ReadonlyMap<string, CompiledRule[]>;
  ungroupedRules: CompiledRule[];
  defaultPool?: { name: string; hubs: CompiledHub[] };
  defaultTwin?: TwinState;
  defaultPayload?: unknown;
  denyMaxAgeMs: number;
  failClosed: boolean;
}

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(`allocation policy is invalid: ${problems.join('; ')}`);
    this.name = 'PolicyError';
  }
}

function describe(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`;
}

const PATTERN_FIELDS = ['registrationIdPattern', 'x509Subject', 'x509Issuer'] as const;

/** The rules' regular expressions that do not compile (the generated schema code knows no `regex` format). */
function patternProblems(doc: unknown): string[] {
  const rules = (doc as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  return rules.flatMap((rule: { match?: Record<string, unknown> } | null, i) =>
    PATTERN_FIELDS.flatMap((field) => {
      const source = rule?.match?.[field];
      if (typeof source !== 'string') return [];
      try {
        new RegExp(source);
        return [];
      } catch (err) {
        return [`/rules/${i}/match/${field} is not a regular expression: ${(err as Error).message}`];
      }
    }),
  );
}

export function compilePolicy(doc: unknown): CompiledPolicy {
  const invalid = [
    ...(validatePolicy(doc) ? [] : (validatePolicy.errors ?? []).map(describe)),
    ...patternProblems(doc),
  ];
  if (invalid.length) throw new PolicyError(invalid);
  const policy = doc as PolicyDocument;
  const problems: string[] = [];
  // Each pool compiled once, whatever the number of rules naming it (a thousand rules over 50 hubs would otherwise
  // make 50,000 hub objects on every policy load).
  const pools = new Map<string, CompiledHub[]>();
  const pool = (name: string, where: string): CompiledHub[] => {
    const found = policy.pools[name];
    if (!found) {
      problems.push(`${where} names pool "${name}", which is not defined`);
      return [];
    }
    let hubs = pools.get(name);
    if (!hubs) {
      hubs = found.hubs.map((h) => ({
        hostName: h.hostName,
        key: h.hostName.toLowerCase(),
        weight: h.weight ?? 1,
        capacity: h.capacity,
        enabled: h.enabled ?? true,
      }));
      pools.set(name, hubs);
    }
    return hubs;
  };
  const pattern = (source: string | undefined) => (source === undefined ? undefined : new RegExp(source, 'i'));
  const names = new Set<string>();
  const rules = policy.rules.map((r, i): CompiledRule => {
    if (names.has(r.name)) problems.push(`/rules/${i} repeats the rule name "${r.name}"`);
    names.add(r.name);
    const m = r.match;
    const groups = m.enrollmentGroupId === undefined ? undefined : ([] as string[]).concat(m.enrollmentGroupId);
    return {
      index: i,
      name: r.name,
      groupIds: groups && new Set(groups.map((g) => g.toLowerCase())),
      registrationId: pattern(m.registrationIdPattern),
      tags: m.tags && Object.entries(m.tags),
      payload: m.payload && Object.entries(m.payload).map(([k, v]) => [k.split('.'), v]),
      x509Subject: pattern(m.x509Subject),
      x509Issuer: pattern(m.x509Issuer),
      certificatePolicies:
        m.certificatePolicyName === undefined
          ? undefined
          : new Set(([] as string[]).concat(m.certificatePolicyName).map((n) => n.toLowerCase())),
      pool: pool(r.pool, `/rules/${i}`),
      poolName: r.pool,
      reprovision: r.reprovision ?? 'sticky',
      initialTwin: r.initialTwin,
      payloadTemplate: r.payload,
    };
  });
  const defaultPoolName = policy.default?.pool;
  const defaultPool =
    defaultPoolName === undefined ? undefined : { name: defaultPoolName, hubs: pool(defaultPoolName, '/default') };
  if (problems.length) throw new PolicyError(problems);
  const rulesByGroup = new Map<string, CompiledRule[]>();
  for (const rule of rules)
    for (const g of rule.groupIds ?? []) rulesByGroup.set(g, [...(rulesByGroup.get(g) ?? []), rule]);
  return {
    id: policy.id,
    rules,
    rulesByGroup,
    ungroupedRules: rules.filter((r) => !r.groupIds),
    defaultPool,
    defaultTwin: policy.default?.initialTwin,
    defaultPayload: policy.default?.payload,
    denyMaxAgeMs: (policy.denyList?.maxAgeSeconds ?? 300) * 1000,
    failClosed: policy.denyList?.failClosed ?? true,
  };
}
