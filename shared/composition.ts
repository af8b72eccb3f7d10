/**
 * The composition root (DESIGN.md): builds every adapter once per process from the app settings and hands
 * the use cases their ports. Functions call `services()`; tests build their own with `buildServices(env)`.
 */
import { CONTAINERS } from './containers';
import { azureCredential } from './azure/credentials';
import { cosmosClient, CosmosStore } from './azure/cosmos';
import { dpsAuth, dpsClient, DpsEnrollments } from './azure/dps';
import { EventHubEvents } from './azure/event-hubs';
import { IotHubDirectory } from './azure/hub';
import { IOTHUB_TOKEN_SCOPE, type IotAuth } from './azure/iot-clients';
import { queueService, StorageQueues } from './azure/queues';
import { iotTransport, localCa } from './azure/transport';
import { NdjsonEventLog } from './local/event-log';
import type { DocumentStore, EnrollmentsPort, EventsPort, HubDirectory, QueuePort } from './ports';
import { listSetting, requireSetting, setting, type Env } from './settings';

export interface Services {
  enrollments: EnrollmentsPort;
  hubs: HubDirectory;
  store: DocumentStore;
  events: EventsPort;
  queues: QueuePort;
}

const PARTITION_KEYS: Record<string, string> = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));

function hubAuth(env: Env): Array<{ hostName: string; auth: IotAuth }> {
  const connectionStrings = listSetting(env, 'hubConnectionStrings');
  const byHost = new Map(connectionStrings.map((cs) => [/HostName=([^;]+)/i.exec(cs)?.[1]?.toLowerCase(), cs]));
  return listSetting(env, 'hubHostNames').map((hostName) => {
    const connectionString = byHost.get(hostName.toLowerCase());
    return { hostName, auth: connectionString ? { connectionString } : { hostName, credential: azureCredential(env), scope: IOTHUB_TOKEN_SCOPE } };
  });
}

function store(env: Env): DocumentStore {
  const connectionString = setting(env, 'cosmosConnection');
  const endpoint = setting(env, 'cosmosEndpoint');
  if (!connectionString && !endpoint) throw new Error('Set COSMOS_CONNECTION__accountEndpoint (managed identity) or COSMOS_CONNECTION (connection string).');
  const client = connectionString
    ? cosmosClient({ connectionString, ca: localCa(env) })
    : cosmosClient({ endpoint: endpoint as string, credential: azureCredential(env) });
  return new CosmosStore(client, setting(env, 'cosmosDatabase') ?? 'dps-lifecycle', PARTITION_KEYS);
}

function events(env: Env): EventsPort {
  const logPath = setting(env, 'eventLogPath');
  if (logPath) return new NdjsonEventLog(logPath);
  const eventHubName = requireSetting(env, 'eventHubName');
  const connectionString = setting(env, 'eventHubConnection');
  return connectionString
    ? new EventHubEvents({ connectionString, eventHubName })
    : new EventHubEvents({ namespace: requireSetting(env, 'eventHubNamespace'), eventHubName, credential: azureCredential(env) });
}

function queues(env: Env): QueuePort {
  const connectionString = setting(env, 'storageConnection');
  return new StorageQueues(connectionString
    ? queueService({ connectionString })
    : queueService({ serviceUri: requireSetting(env, 'storageQueueServiceUri'), credential: azureCredential(env) }));
}

export function buildServices(env: Env): Services {
  const transport = iotTransport(env);
  const dpsHost = requireSetting(env, 'dpsHostName');
  return {
    enrollments: new DpsEnrollments(dpsClient(dpsAuth(dpsHost, setting(env, 'dpsConnectionString'), () => azureCredential(env)), transport)),
    hubs: new IotHubDirectory(hubAuth(env), transport),
    store: store(env),
    events: events(env),
    queues: queues(env),
  };
}

let cached: Services | undefined;

/** The process-wide services, built on first use (not at import: the allocation webhook's cold start stays small). */
export function services(): Services {
  cached ??= buildServices(process.env);
  return cached;
}
