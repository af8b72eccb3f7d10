/**
 * The allocation policy as data: pools of hubs and ordered rules, validated against a JSON Schema at load (with
 * every error's path in the message) and compiled once (regexes built, names lower-cased) for the hot path.
 */
import Ajv, { type ErrorObject } from 'ajv';

import type { TwinState } from '../dps-types';

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

const scalarMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const twin = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tags: { type: 'object' },
    properties: { type: 'object', additionalProperties: false, properties: { desired: { type: 'object' } } },
  },
};
const hostName = { type: 'string', pattern: '^[A-Za-z0-9.-]+$', minLength: 1 };

export const POLICY_SCHEMA = {
  type: 'object',
  additionalProperties: true,
  required: ['id', 'pools', 'rules'],
  properties: {
    id: { type: 'string', minLength: 1 },
    pools: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['hubs'],
        properties: {
          hubs: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['hostName'],
              properties: {
                hostName,
                weight: { type: 'number', minimum: 1, maximum: 1000 },
                capacity: { type: 'integer', minimum: 0 },
                enabled: { type: 'boolean' },
              },
            },
          },
        },
      },
    },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match', 'pool'],
        properties: {
          name: { type: 'string', minLength: 1 },
          pool: { type: 'string', minLength: 1 },
          reprovision: { enum: ['sticky', 'migrate'] },
          initialTwin: twin,
          payload: {},
          match: {
            type: 'object',
            additionalProperties: false,
            properties: {
              enrollmentGroupId: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
              registrationIdPattern: { type: 'string', format: 'regex' },
              tags: scalarMap,
              payload: scalarMap,
              x509Subject: { type: 'string', format: 'regex' },
              x509Issuer: { type: 'string', format: 'regex' },
            },
          },
        },
      },
    },
    default: {
      type: 'object',
      additionalProperties: false,
      properties: { pool: { type: 'string' }, initialTwin: twin, payload: {} },
    },
    denyList: {
      type: 'object',
      additionalProperties: false,
      properties: { maxAgeSeconds: { type: 'number', exclusiveMinimum: 0 }, failClosed: { type: 'boolean' } },
    },
  },
} as const;

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

let validator: ReturnType<Ajv['compile']> | undefined;

function describe(e: ErrorObject): string {
  return `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : ''}`;
}

export function compilePolicy(doc: unknown): CompiledPolicy {
  validator ??= new Ajv({
    allErrors: true,
    allowUnionTypes: true,
    formats: {
      regex: {
        validate: (s: string) => {
          try {
            new RegExp(s);
            return true;
          } catch {
            return false;
          }
        },
      },
    },
  }).compile(POLICY_SCHEMA);
  if (!validator(doc)) throw new PolicyError((validator.errors ?? []).map(describe));
  const policy = doc as PolicyDocument;
  const problems: string[] = [];
  const pool = (name: string, where: string): CompiledHub[] => {
    const found = policy.pools[name];
    if (!found) {
      problems.push(`${where} names pool "${name}", which is not defined`);
      return [];
    }
    return found.hubs.map((h) => ({
      hostName: h.hostName,
      key: h.hostName.toLowerCase(),
      weight: h.weight ?? 1,
      capacity: h.capacity,
      enabled: h.enabled ?? true,
    }));
  };
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
      registrationId: m.registrationIdPattern === undefined ? undefined : new RegExp(m.registrationIdPattern, 'i'),
      tags: m.tags && Object.entries(m.tags),
      payload: m.payload && Object.entries(m.payload).map(([k, v]) => [k.split('.'), v]),
      x509Subject: m.x509Subject === undefined ? undefined : new RegExp(m.x509Subject, 'i'),
      x509Issuer: m.x509Issuer === undefined ? undefined : new RegExp(m.x509Issuer, 'i'),
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
