/**
 * The allocation view of the operator console, from what the webhook decides by: each linked hub with its devices,
 * and the pools that use it with their weight, capacity and rotation; each rule with its pool; the deny list's size.
 */
import type { HourCounts } from './counters';
import type { CompiledHub, CompiledPolicy } from './policy';

export interface HubOverview {
  hostName: string;
  devices: number | undefined;
  /** Devices connected to it now (its service statistics); undefined when the hub could not be read. */
  connected?: number;
  pools: Array<{ pool: string; weight: number; capacity?: number; inRotation: boolean }>;
  /** Devices over the tightest capacity any pool gives the hub, in percent; undefined when no pool caps it. */
  percentOfCapacity?: number;
}

export interface AllocationOverview {
  policyId: string | undefined;
  policyProblem: string | undefined;
  hubs: HubOverview[];
  rules: Array<{ name: string; pool: string; matches: string[] }>;
  defaultPool: string | undefined;
  denyList: { entries: number; refreshedAt: string | undefined };
  /** Decisions of every instance, hour by hour, for the last day. */
  lastDay: HourCounts[];
}

function poolsOf(policy: CompiledPolicy | undefined): Array<{ name: string; hubs: CompiledHub[] }> {
  if (!policy) return [];
  const pools = new Map<string, CompiledHub[]>();
  for (const rule of policy.rules) pools.set(rule.poolName, rule.pool);
  if (policy.defaultPool) pools.set(policy.defaultPool.name, policy.defaultPool.hubs);
  return [...pools].map(([name, hubs]) => ({ name, hubs }));
}

function matchesOf(rule: CompiledPolicy['rules'][number]): string[] {
  const m: string[] = [];
  if (rule.groupIds) m.push(`groups ${[...rule.groupIds].join(', ')}`);
  if (rule.registrationId) m.push(`registrationId ~ ${rule.registrationId.source}`);
  for (const [path, value] of rule.tags ?? []) m.push(`tag ${path} = ${String(value)}`);
  for (const [path, value] of rule.payload ?? []) m.push(`payload.${path.join('.')} = ${String(value)}`);
  if (rule.x509Subject) m.push(`subject ~ ${rule.x509Subject.source}`);
  if (rule.x509Issuer) m.push(`issuer ~ ${rule.x509Issuer.source}`);
  if (rule.certificatePolicies) m.push(`certificate policy ${[...rule.certificatePolicies].join(', ')}`);
  return m;
}

export function allocationOverview(
  state: {
    policy: CompiledPolicy | undefined;
    policyProblem: string | undefined;
    hubLoad: ReadonlyMap<string, number>;
    denyEntries: number;
    denyRefreshedAt: string | undefined;
    lastDay: HourCounts[];
    /** Connected devices per hub (lower-case host name), as the hubs' service statistics say. */
    connected?: ReadonlyMap<string, number>;
  },
  linkedHubs: readonly string[],
): AllocationOverview {
  const pools = poolsOf(state.policy);
  const hubs = linkedHubs.map((hostName): HubOverview => {
    const devices = state.hubLoad.get(hostName.toLowerCase());
    const inPools = pools.flatMap(({ name, hubs: members }) =>
      members
        .filter((h) => h.hostName.toLowerCase() === hostName.toLowerCase())
        .map((h) => ({ pool: name, weight: h.weight, capacity: h.capacity, inRotation: h.enabled })),
    );
    const caps = inPools.map((p) => p.capacity).filter((c): c is number => c !== undefined && c > 0);
    const tightest = caps.length ? Math.min(...caps) : undefined;
    const connected = state.connected?.get(hostName.toLowerCase());
    return {
      hostName,
      devices,
      ...(connected === undefined ? {} : { connected }),
      pools: inPools,
      ...(tightest && devices !== undefined ? { percentOfCapacity: Math.round((devices / tightest) * 1000) / 10 } : {}),
    };
  });
  return {
    policyId: state.policy?.id,
    policyProblem: state.policyProblem,
    hubs,
    rules: (state.policy?.rules ?? []).map((r) => ({ name: r.name, pool: r.poolName, matches: matchesOf(r) })),
    defaultPool: state.policy?.defaultPool?.name,
    denyList: { entries: state.denyEntries, refreshedAt: state.denyRefreshedAt },
    lastDay: state.lastDay,
  };
}
