/**
 * The embedded Cosmos DB server (`@vercel/cosmosdb-server`) for the local stack, serving TLS with the local CA's
 * certificate so the real `@azure/cosmos` client trusts it. It keeps nothing by itself, so the local stack
 * snapshots every container to a JSON file on shutdown and loads it back at start.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

import { CosmosClient } from '@azure/cosmos';
import { createHttpsServer } from '@vercel/cosmosdb-server';

import { CONTAINERS } from '../shared/containers';

/** The Cosmos emulator's well-known development key (public, documented; not a secret). */
export const EMULATOR_KEY = 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==';

export interface RunningCosmos {
  endpoint: string;
  connectionString: string;
  client: CosmosClient;
  close(): Promise<void>;
}

export async function startCosmos(options: {
  tls: { cert: string; key: string };
  ca: string;
  port?: number;
  database: string;
  snapshotFile?: string;
}): Promise<RunningCosmos> {
  const server = createHttpsServer({ cert: options.tls.cert, key: options.tls.key, keepAlive: true } as never);
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, '127.0.0.1', resolve),
  );
  const endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const client = new CosmosClient({
    endpoint,
    key: EMULATOR_KEY,
    agent: new https.Agent({ ca: options.ca, keepAlive: true }),
    connectionPolicy: { enableEndpointDiscovery: false },
  });
  const { database } = await client.databases.createIfNotExists({ id: options.database });
  for (const spec of Object.values(CONTAINERS))
    await database.containers.createIfNotExists({ id: spec.name, partitionKey: { paths: [spec.partitionKeyPath] } });

  if (options.snapshotFile && existsSync(options.snapshotFile)) {
    const snapshot = JSON.parse(readFileSync(options.snapshotFile, 'utf8')) as Record<
      string,
      Record<string, unknown>[]
    >;
    for (const [name, docs] of Object.entries(snapshot)) {
      const container = database.container(name);
      for (const doc of docs) await container.items.upsert(doc);
    }
  }

  return {
    endpoint,
    connectionString: `AccountEndpoint=${endpoint};AccountKey=${EMULATOR_KEY};`,
    client,
    close: async () => {
      if (options.snapshotFile) {
        const snapshot: Record<string, unknown[]> = {};
        for (const spec of Object.values(CONTAINERS)) {
          const { resources } = await database.container(spec.name).items.query('SELECT * FROM c').fetchAll();
          snapshot[spec.name] = resources.map(({ _rid, _self, _ts, _attachments, ...doc }) => doc);
        }
        writeFileSync(options.snapshotFile, JSON.stringify(snapshot));
      }
      client.dispose();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
