/** The allocation benchmarks' policy (1,000 rules over 50 hubs) and request, as DPS sends it. */
export const HUBS = Array.from({ length: 50 }, (_, i) => `hub-${String(i).padStart(2, '0')}.azure-devices.net`);

export function benchPolicy() {
  const rules = Array.from({ length: 999 }, (_, i) => ({
    name: `tenant-${i}`,
    match: { enrollmentGroupId: `tenant-${i}-devices`, payload: { region: 'eu' } },
    pool: 'all',
  }));
  rules.push({
    name: 'matching-rule',
    match: { enrollmentGroupId: 'bench-group', payload: { region: 'eu' } },
    pool: 'all',
  });
  return {
    id: 'bench',
    pools: { all: { hubs: HUBS.map((hostName, i) => ({ hostName, weight: 1 + (i % 3) })) } },
    rules,
    denyList: { maxAgeSeconds: 300, failClosed: true },
  };
}

/** A DPS request for `registrationId` in the group the 1,000th rule matches. */
export const allocationBody = (registrationId: string) =>
  JSON.stringify({
    enrollmentGroup: {
      enrollmentGroupId: 'bench-group',
      attestation: { type: 'symmetricKey' },
      allocationPolicy: 'custom',
      initialTwin: { tags: { tenant: 'bench' } },
    },
    deviceRuntimeContext: {
      registrationId,
      symmetricKey: {},
      payload: { modelId: 'dtmi:bench:device;1', region: 'eu' },
    },
    linkedHubs: HUBS,
  });
