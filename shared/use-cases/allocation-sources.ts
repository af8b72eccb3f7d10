/** Where the allocation webhook's snapshots come from: the policy document, the deny list and its change log (Cosmos), hub load (registry statistics). */
import type { DenyListFeed } from '../allocation/deny-list';
import type { ConfigDocument, LazyServices } from '../ports';
import type { AllocationSources } from './allocation-runtime';

export const POLICY_DOCUMENT_ID = 'allocation';

export function allocationSources(
  policy: ConfigDocument,
  services: LazyServices,
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
  };
}
