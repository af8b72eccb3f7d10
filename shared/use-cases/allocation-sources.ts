/** Where the allocation webhook's snapshots come from: the policy document, the deny list (Cosmos), hub load (registry statistics). */
import type { DenyEntry } from '../allocation/deny-list';
import { CONTAINERS } from '../containers';
import type { ConfigDocument, LazyServices, StoredDocument } from '../ports';
import type { AllocationSources } from './allocation-runtime';

export const POLICY_DOCUMENT_ID = 'allocation';

export function allocationSources(policy: ConfigDocument, services: LazyServices): AllocationSources {
  return {
    loadPolicy: () => policy.read(),
    async loadDenyList() {
      const container = (await services.store()).container<StoredDocument & DenyEntry>(CONTAINERS.denyList.name);
      const entries: DenyEntry[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await container.query(
          'SELECT c.kind, c["value"], c.reason, c.incidentId, c.createdAt FROM c',
          {},
          { maxItems: 1000, continuationToken },
        );
        entries.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      return entries;
    },
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
  };
}
