/** Where the allocation webhook's snapshots come from: the policy document, the deny list and its change log (Cosmos), hub load (registry statistics). */
import { randomUUID } from 'node:crypto';

import type { ConfigDocument, LazyServices } from '../ports';
import type { DecisionCountRepository } from './decision-counts';
import type { DenyListFeed } from './rules/deny-list';
import type { AllocationSources } from './runtime';

export const POLICY_DOCUMENT_ID = 'allocation';

/** This process, among the webhook's instances: its decision counts are its own documents. */
const INSTANCE = randomUUID();

export function allocationSources(
  policy: ConfigDocument,
  services: Pick<LazyServices, 'hubs' | 'events'> & { decisionCounts: () => Promise<DecisionCountRepository> },
  denyList: () => Promise<DenyListFeed>,
): AllocationSources {
  return {
    loadPolicy: () => policy.read(),
    denyList,
    async loadHubLoad() {
      const hubs = await services.hubs();
      const counts = await Promise.all(
        hubs
          .hostNames()
          .map(async (h) => [h.toLowerCase(), (await hubs.hub(h).statistics()).totalDeviceCount] as const),
      );
      return new Map(counts);
    },
    events: () => services.events(),
    saveDecisions: async (hours) => (await services.decisionCounts()).save(INSTANCE, hours, new Date()),
  };
}
