/** A configuration document kept in the `policies` container (Azure); its etag is its version. */
import { CONTAINERS } from './containers';
import type { ConfigDocument, DocumentStore } from './ports';

export function storedConfigDocument(store: () => Promise<DocumentStore>, documentId: string): ConfigDocument {
  return {
    async read() {
      const doc = await (await store()).container(CONTAINERS.policies.name).read(documentId, documentId);
      return doc && { doc, version: `etag:${doc._etag}` };
    },
  };
}
