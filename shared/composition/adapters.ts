/**
 * The adapters, each built from the app settings (docs/architecture.md: the composition root). Each adapter module
 * (and so its SDK) is imported only when first asked for, so the allocation webhook's cold start does not pay for SDKs
 * it does not use on its hot path.
 */
import type { BlobAuth } from '../azure/blobs';
import type { IotAuth } from '../azure/iot-clients';
import { IOTHUB_TOKEN_SCOPE } from '../azure/scopes';
import type { DeviceRegistryPort } from '../certificates/device-registry';
import { CONTAINERS } from '../containers';
import type {
  BlobsPort,
  DocumentStore,
  EnrollmentsPort,
  EventsPort,
  HubDirectory,
  QueuePort,
  SecretsPort,
  StagedFilesPort,
  WebhookKeysPort,
} from '../ports';
import { type Env, listSetting, numberSetting, requireSetting, setting } from '../settings';
import { once } from './once';

const PARTITION_KEYS: Record<string, string> = Object.fromEntries(
  Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]),
);

export async function credential(env: Env) {
  return (await import('../azure/credentials')).azureCredential(env);
}

export async function enrollments(env: Env): Promise<EnrollmentsPort> {
  const [{ dpsAuth, dpsClient, DpsEnrollments }, { iotTransport }, cred, { iotDeadlines }] = await Promise.all([
    import('../azure/dps'),
    import('../azure/transport'),
    import('../azure/credentials'),
    import('../azure/iot-deadlines'),
  ]);
  const auth = dpsAuth(requireSetting(env, 'dpsHostName'), setting(env, 'dpsConnectionString'), () =>
    cred.azureCredential(env),
  );
  return new DpsEnrollments(dpsClient(auth, iotTransport(env), iotDeadlines(env)));
}

/** DPS's documented quota (operations a minute), where the pace starts when nothing else is configured. */
const DPS_DOCUMENTED_PER_MINUTE = 1000;

/**
 * Every DPS call of the process goes through one pacer, and every process shares its pace through one document per
 * DPS instance: the quota is the instance's, whichever worker spends it (shared/pacing).
 */
export async function pacedDps(
  env: Env,
  dps: EnrollmentsPort,
  store: () => Promise<DocumentStore>,
): Promise<EnrollmentsPort> {
  const [{ Pacer, pacedEnrollments }, { CosmosPaceRepository }] = await Promise.all([
    import('../pacing'),
    import('../pacing/store/cosmos-paces'),
  ]);
  const pacer = new Pacer({
    paces: once(async () => new CosmosPaceRepository(await store())),
    key: `pace.dps.${requireSetting(env, 'dpsHostName').toLowerCase()}`,
    settings: {
      configuredPerMinute: numberSetting(env, 'dpsOperationsPerMinute', (n) => n > 0) ?? DPS_DOCUMENTED_PER_MINUTE,
    },
  });
  return pacedEnrollments(dps, pacer);
}

/** The DPS adapter itself, unpaced: for a test that paces it on its own clock. */
export { enrollments as dpsEnrollments };

export async function hubs(env: Env): Promise<HubDirectory> {
  const [{ IotHubDirectory }, { iotTransport }, { iotDeadlines }] = await Promise.all([
    import('../azure/hub'),
    import('../azure/transport'),
    import('../azure/iot-deadlines'),
  ]);
  const byHost = new Map(
    listSetting(env, 'hubConnectionStrings').map((cs) => [/HostName=([^;]+)/i.exec(cs)?.[1]?.toLowerCase(), cs]),
  );
  const entries: Array<{ hostName: string; auth: IotAuth }> = [];
  for (const hostName of listSetting(env, 'hubHostNames')) {
    const connectionString = byHost.get(hostName.toLowerCase());
    entries.push({
      hostName,
      auth: connectionString
        ? { connectionString }
        : { hostName, credential: await credential(env), scope: IOTHUB_TOKEN_SCOPE },
    });
  }
  return new IotHubDirectory(entries, iotTransport(env), iotDeadlines(env));
}

export async function store(env: Env): Promise<DocumentStore> {
  const connectionString = setting(env, 'cosmosConnection');
  const endpoint = setting(env, 'cosmosEndpoint');
  if (!connectionString && !endpoint)
    throw new Error(
      'Set COSMOS_CONNECTION__accountEndpoint (managed identity) or COSMOS_CONNECTION (connection string).',
    );
  const [{ cosmosClient, CosmosStore }, { localCa }] = await Promise.all([
    import('../azure/cosmos'),
    import('../azure/transport'),
  ]);
  const client = connectionString
    ? cosmosClient({ connectionString, ca: localCa(env) })
    : cosmosClient({ endpoint: endpoint as string, credential: await credential(env) });
  return new CosmosStore(client, setting(env, 'cosmosDatabase') ?? 'dps-lifecycle', PARTITION_KEYS);
}

export async function events(env: Env): Promise<EventsPort> {
  const logPath = setting(env, 'eventLogPath');
  if (logPath) return new (await import('../local/event-log')).NdjsonEventLog(logPath);
  const { EventHubEvents } = await import('../azure/event-hubs');
  const eventHubName = requireSetting(env, 'eventHubName');
  const connectionString = setting(env, 'eventHubConnection');
  return connectionString
    ? new EventHubEvents({ connectionString, eventHubName })
    : new EventHubEvents({
        namespace: requireSetting(env, 'eventHubNamespace'),
        eventHubName,
        credential: await credential(env),
      });
}

export async function queues(env: Env): Promise<QueuePort> {
  const { queueService, StorageQueues } = await import('../azure/queues');
  const connectionString = setting(env, 'storageConnection');
  return new StorageQueues(
    connectionString
      ? queueService({ connectionString })
      : queueService({ serviceUri: requireSetting(env, 'storageQueueServiceUri'), credential: await credential(env) }),
  );
}

/** Blob storage by its connection string (Azurite locally) or by the app's identity (Azure). */
async function blobAuth(env: Env): Promise<BlobAuth> {
  const connectionString = setting(env, 'storageConnection');
  return connectionString
    ? { connectionString }
    : { serviceUri: requireSetting(env, 'storageBlobServiceUri'), credential: await credential(env) };
}

export async function blobs(env: Env): Promise<BlobsPort> {
  const { StorageBlobs } = await import('../azure/blobs');
  return new StorageBlobs(await blobAuth(env));
}

export async function stagedFiles(env: Env): Promise<StagedFilesPort> {
  const { StorageStagedFiles } = await import('../azure/staged-files');
  return new StorageStagedFiles(await blobAuth(env));
}

/**
 * Azure Device Registry over ARM. Locally the loopback agent dials the simulator's ADR, which takes any bearer token,
 * so a fixed token stands in for Entra ID there; in Azure, the app's managed identity.
 */
export async function deviceRegistryFor(env: Env): Promise<DeviceRegistryPort> {
  const [{ ArmDeviceRegistry }, { iotTransport }] = await Promise.all([
    import('../azure/device-registry'),
    import('../azure/transport'),
  ]);
  const transport = iotTransport(env);
  const token = transport
    ? { getToken: async () => ({ token: 'local-stack', expiresOnTimestamp: Date.now() + 3_600_000 }) }
    : await credential(env);
  return new ArmDeviceRegistry({
    resourceGroupId: requireSetting(env, 'adrResourceGroupId'),
    credential: token,
    transport,
  });
}

/** Where the webhook's keys and URL live: a function app in Azure, or the local stack. */
export type WebhookKeyTarget =
  | { kind: 'azure'; subscriptionId: string; resourceGroup: string; appName: string; vaultName: string; env: Env }
  | { kind: 'local'; hostUrl: string; masterKey: string; secretsFile: string };

/**
 * What `dps-lifecycle webhook rotate-key` works with. In Azure: the function's keys through Resource Manager and the
 * URL in Key Vault, with the operator's identity. Locally: the local host's key API and a secrets file.
 */
export async function webhookKeyAdapters(
  target: WebhookKeyTarget,
): Promise<{ keys: WebhookKeysPort; secrets: SecretsPort }> {
  if (target.kind === 'local') {
    const { HostFunctionKeys, FileSecrets } = await import('../local/host-function-keys');
    return {
      keys: new HostFunctionKeys(target.hostUrl, target.masterKey, 'allocate'),
      secrets: new FileSecrets(target.secretsFile),
    };
  }
  const [{ ArmFunctionKeys }, { KeyVaultSecrets }, cred] = await Promise.all([
    import('../azure/function-keys'),
    import('../azure/key-vault'),
    credential(target.env),
  ]);
  const app = { subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.appName };
  return {
    keys: new ArmFunctionKeys({ ...app, functionName: 'allocate' }, cred),
    secrets: new KeyVaultSecrets(target.vaultName, cred),
  };
}
