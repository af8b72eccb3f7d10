/** DocumentStore on `@azure/cosmos`: one client per process, one container handle per name. */
import * as https from 'node:https';

import { type Container, CosmosClient, type ErrorResponse, type PartitionKey, type SqlParameter } from '@azure/cosmos';
import type { TokenCredential } from '@azure/identity';

import {
  ConflictError,
  isConnectionLost,
  NotFoundError,
  ServiceError,
  ThrottledError,
  TRANSIENT_STATUSES,
  TransientError,
} from '../errors';
import type { DocumentContainer, DocumentStore, Page, QueryOptions, StoredDocument } from '../ports';
import { retryIdempotent } from '../retry';
import { countThrottle } from './metrics';

export type CosmosAuth = { connectionString: string; ca?: string } | { endpoint: string; credential: TokenCredential };

export function cosmosClient(auth: CosmosAuth): CosmosClient {
  if ('connectionString' in auth) {
    // Locally the embedded server is trusted through the local CA; keep-alive avoids a TLS handshake per request.
    const agent = auth.ca ? new https.Agent({ ca: auth.ca, keepAlive: true }) : undefined;
    return new CosmosClient({
      connectionString: auth.connectionString,
      agent,
      connectionPolicy: { enableEndpointDiscovery: !auth.ca },
    });
  }
  return new CosmosClient({ endpoint: auth.endpoint, aadCredentials: auth.credential });
}

const fromCosmos = (err: TransientError) => Object.assign(err, { service: 'cosmos' as const });

function translate(err: unknown): Error {
  const e = err as ErrorResponse;
  switch (e?.code) {
    case 404:
      return new NotFoundError(e.message);
    case 409:
      return new ConflictError(e.message, 409);
    case 412:
      return new ConflictError(e.message, 412);
    case 429:
      countThrottle('cosmos');
      return new ThrottledError(e.message, e.retryAfterInMs);
    default:
      if (typeof e?.code === 'number')
        return TRANSIENT_STATUSES.has(e.code)
          ? fromCosmos(new TransientError(e.message, e.code))
          : new ServiceError(e.message, e.code);
      return isConnectionLost(err)
        ? fromCosmos(new TransientError(`connection lost: ${e?.message}`, undefined))
        : (err as Error);
  }
}

/**
 * Every call is tried again after a transient fault (the SDK itself retries 429, and reads after a reset, but not
 * writes). Each operation here is safe to repeat: reads, queries and upserts are; a create or an If-Match replace
 * whose first answer was lost meets 409 or 412 on the retry, which callers already read as "written before" (a create
 * of an id that names what it is) or resolve by reading again (an etag loop); a delete treats 404 as done.
 */
async function cosmos<T>(call: () => Promise<T>): Promise<T> {
  return retryIdempotent(
    async () => {
      try {
        return await call();
      } catch (err) {
        throw translate(err);
      }
    },
    // Throttling stays the SDK's (it read x-ms-retry-after-ms already); only transient faults are retried here.
    { attempts: 1, transientAttempts: 5, transientBaseDelayMs: 100 },
  );
}

class CosmosDocuments<T extends StoredDocument> implements DocumentContainer<T> {
  private readonly pkField: string;

  constructor(
    private readonly container: Container,
    partitionKeyPath: string,
  ) {
    this.pkField = partitionKeyPath.replace(/^\//, '');
  }

  private pk(doc: T): PartitionKey {
    return doc[this.pkField] as PartitionKey;
  }

  async read(id: string, partitionKey: string): Promise<T | undefined> {
    const { resource, statusCode } = await cosmos(() => this.container.item(id, partitionKey).read<T>());
    return statusCode === 404 ? undefined : resource;
  }

  async create(doc: T): Promise<T> {
    return (await cosmos(() => this.container.items.create<T>(doc))).resource as T;
  }

  async upsert(doc: T): Promise<T> {
    return (await cosmos(() => this.container.items.upsert<T>(doc))).resource as T;
  }

  async replace(doc: T): Promise<T> {
    const options = doc._etag ? { accessCondition: { type: 'IfMatch', condition: doc._etag } } : undefined;
    return (await cosmos(() => this.container.item(doc.id, this.pk(doc)).replace<T>(doc, options))).resource as T;
  }

  async delete(id: string, partitionKey: string, etag?: string): Promise<void> {
    const options = etag ? { accessCondition: { type: 'IfMatch', condition: etag } } : undefined;
    try {
      await cosmos(() => this.container.item(id, partitionKey).delete(options));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async query(sql: string, parameters: Record<string, unknown> = {}, options: QueryOptions = {}): Promise<Page<T>> {
    const spec = {
      query: sql,
      parameters: Object.entries(parameters).map(([name, value]) => ({ name, value }) as SqlParameter),
    };
    const iterator = this.container.items.query<T>(spec, {
      maxItemCount: options.maxItems,
      continuationToken: options.continuationToken,
      partitionKey: options.partitionKey,
    });
    const response = await cosmos(() => iterator.fetchNext());
    return { items: response.resources, continuationToken: response.continuationToken || undefined };
  }
}

export class CosmosStore implements DocumentStore {
  private readonly handles = new Map<string, DocumentContainer>();

  constructor(
    private readonly client: CosmosClient,
    private readonly databaseId: string,
    private readonly partitionKeys: Record<string, string>,
  ) {}

  container<T extends StoredDocument = StoredDocument>(name: string): DocumentContainer<T> {
    let handle = this.handles.get(name);
    if (!handle) {
      const pk = this.partitionKeys[name];
      if (!pk) throw new Error(`unknown container ${name}`);
      handle = new CosmosDocuments(this.client.database(this.databaseId).container(name), pk);
      this.handles.set(name, handle);
    }
    return handle as DocumentContainer<T>;
  }
}
