/** Where the allocation webhook's snapshots come from: the policy (file or Cosmos), the deny list (Cosmos), hub load (registry statistics). */
import { readFile, stat } from 'node:fs/promises';
import type { LazyServices } from '../composition';
import { CONTAINERS } from '../containers';
import type { DenyEntry } from '../allocation/deny-list';
import type { StoredDocument } from '../ports';
import { setting, type Env } from '../settings';
import type { AllocationSources } from './allocation-runtime';

export const POLICY_DOCUMENT_ID = 'allocation';

export function allocationSources(env: Env, services: LazyServices): AllocationSources {
  const file = setting(env, 'allocationPolicyFile');
  return {
    async loadPolicy() {
      if (file) {
        const { mtimeMs } = await stat(file);
        return { doc: JSON.parse(await readFile(file, 'utf8')), version: `file:${mtimeMs}` };
      }
      const doc = await (await services.store()).container(CONTAINERS.policies.name).read(POLICY_DOCUMENT_ID, POLICY_DOCUMENT_ID);
      return doc && { doc, version: `etag:${doc._etag}` };
    },
    async loadDenyList() {
      const container = (await services.store()).container<StoredDocument & DenyEntry>(CONTAINERS.denyList.name);
      const entries: DenyEntry[] = [];
      let continuationToken: string | undefined;
      do {
        const page = await container.query('SELECT c.kind, c["value"], c.reason, c.incidentId, c.createdAt FROM c', {}, { maxItems: 1000, continuationToken });
        entries.push(...page.items);
        continuationToken = page.continuationToken;
      } while (continuationToken);
      return entries;
    },
    async loadHubLoad() {
      const hubs = await services.hubs();
      const counts = await Promise.all(hubs.hostNames().map(async (h) => [h.toLowerCase(), (await hubs.hub(h).statistics()).totalDeviceCount] as const));
      return new Map(counts);
    },
    events: () => services.events(),
  };
}
