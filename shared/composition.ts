/**
 * The composition root (docs/architecture.md): builds every adapter once per process from the app settings and hands the use
 * cases their ports. Each adapter module (and so its SDK) is imported only when first asked for, so the allocation
 * webhook's cold start does not pay for SDKs it does not use on its hot path.
 */
import type { DecisionCountRepository, DenyListFeed } from './allocation';
import { withAuditTrail } from './audit-trail';
import type { BlobAuth } from './azure/blobs';
import type { IotAuth } from './azure/iot-clients';
import { OtelMetrics } from './azure/metrics';
import { IOTHUB_TOKEN_SCOPE } from './azure/scopes';
import type { CertificateRepository } from './certificates';
import { storedConfigDocument } from './config-documents';
import { CONTAINERS } from './containers';
import type { FindingRepository } from './findings';
import type { ImportJobRepository } from './imports';
import type { DenyListRepository } from './incidents';
import { jsonFileDocument } from './local/json-file';
import type {
  BlobsPort,
  ConfigDocument,
  DocumentStore,
  EnrollmentsPort,
  EventsPort,
  HubDirectory,
  LazyServices,
  MetricsPort,
  QueuePort,
  SecretsPort,
  Services,
  StagedFilesPort,
  WebhookKeysPort,
} from './ports';
import type { SettingKey } from './settings';
import { type Env, listSetting, requireSetting, setting } from './settings';

const PARTITION_KEYS: Record<string, string> = Object.fromEntries(
  Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]),
);

async function credential(env: Env) {
  return (await import('./azure/credentials')).azureCredential(env);
}

async function enrollments(env: Env): Promise<EnrollmentsPort> {
  const [{ dpsAuth, dpsClient, DpsEnrollments }, { iotTransport }, cred] = await Promise.all([
    import('./azure/dps'),
    import('./azure/transport'),
    import('./azure/credentials'),
  ]);
  const auth = dpsAuth(requireSetting(env, 'dpsHostName'), setting(env, 'dpsConnectionString'), () =>
    cred.azureCredential(env),
  );
  return new DpsEnrollments(dpsClient(auth, iotTransport(env)));
}

async function hubs(env: Env): Promise<HubDirectory> {
  const [{ IotHubDirectory }, { iotTransport }] = await Promise.all([
    import('./azure/hub'),
    import('./azure/transport'),
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
  return new IotHubDirectory(entries, iotTransport(env));
}

async function store(env: Env): Promise<DocumentStore> {
  const connectionString = setting(env, 'cosmosConnection');
  const endpoint = setting(env, 'cosmosEndpoint');
  if (!connectionString && !endpoint)
    throw new Error(
      'Set COSMOS_CONNECTION__accountEndpoint (managed identity) or COSMOS_CONNECTION (connection string).',
    );
  const [{ cosmosClient, CosmosStore }, { localCa }] = await Promise.all([
    import('./azure/cosmos'),
    import('./azure/transport'),
  ]);
  const client = connectionString
    ? cosmosClient({ connectionString, ca: localCa(env) })
    : cosmosClient({ endpoint: endpoint as string, credential: await credential(env) });
  return new CosmosStore(client, setting(env, 'cosmosDatabase') ?? 'dps-lifecycle', PARTITION_KEYS);
}

async function events(env: Env): Promise<EventsPort> {
  const logPath = setting(env, 'eventLogPath');
  if (logPath) return new (await import('./local/event-log')).NdjsonEventLog(logPath);
  const { EventHubEvents } = await import('./azure/event-hubs');
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

async function queues(env: Env): Promise<QueuePort> {
  const { queueService, StorageQueues } = await import('./azure/queues');
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

async function blobs(env: Env): Promise<BlobsPort> {
  const { StorageBlobs } = await import('./azure/blobs');
  return new StorageBlobs(await blobAuth(env));
}

async function stagedFiles(env: Env): Promise<StagedFilesPort> {
  const { StorageStagedFiles } = await import('./azure/staged-files');
  return new StorageStagedFiles(await blobAuth(env));
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((err: unknown) => {
      made = undefined; // a failed build is tried again next time
      throw err;
    });
    return made;
  };
}

/** The repositories every capability reads and writes through, each built on first use over the document store. */
export interface Repositories {
  certificates: () => Promise<CertificateRepository>;
  denyList: () => Promise<DenyListRepository & DenyListFeed>;
  findings: () => Promise<FindingRepository>;
  importJobs: () => Promise<ImportJobRepository>;
  decisionCounts: () => Promise<DecisionCountRepository>;
}

/** The adapters and the repositories: what the triggers hand the use cases. */
export type AppServices = LazyServices & Repositories;

/** The repositories over a document store (Cosmos in Azure and locally; the memory store in unit tests and benches). */
export function repositories(lazy: Pick<LazyServices, 'store'>): Repositories {
  return {
    certificates: once(
      async () =>
        new (await import('./certificates/store/cosmos-certificates')).CosmosCertificateRepository(await lazy.store()),
    ),
    denyList: denyListRepository(lazy),
    findings: once(
      async () => new (await import('./findings/store/cosmos-findings')).CosmosFindingRepository(await lazy.store()),
    ),
    importJobs: once(
      async () => new (await import('./imports/store/cosmos-jobs')).CosmosImportJobRepository(await lazy.store()),
    ),
    decisionCounts: once(
      async () =>
        new (await import('./allocation/store/cosmos-decision-counts')).CosmosDecisionCountRepository(
          await lazy.store(),
        ),
    ),
  };
}

export function lazyServices(env: Env): AppServices {
  const blobService = once(() => blobs(env));
  // Where blob storage is configured (always in Azure), every audit record also goes to the immutable trail.
  const withTrail = setting(env, 'storageConnection') ?? setting(env, 'storageBlobServiceUri');
  const lazy: LazyServices = {
    enrollments: once(() => enrollments(env)),
    hubs: once(() => hubs(env)),
    store: once(async () => (withTrail ? withAuditTrail(await store(env), blobService) : store(env))),
    events: once(() => events(env)),
    queues: once(() => queues(env)),
    blobs: blobService,
    stagedFiles: once(() => stagedFiles(env)),
  };
  return { ...lazy, ...repositories(lazy) };
}

/** Every service built at once: for tools and tests. */
export async function buildServices(env: Env): Promise<Services> {
  const lazy = lazyServices(env);
  const [e, h, s, ev, q, b] = await Promise.all([
    lazy.enrollments(),
    lazy.hubs(),
    lazy.store(),
    lazy.events(),
    lazy.queues(),
    lazy.blobs(),
  ]);
  return { enrollments: e, hubs: h, store: s, events: ev, queues: q, blobs: b };
}

let processMetrics: MetricsPort | undefined;

/** The process's metrics (OpenTelemetry; exported to Azure Monitor once `startAzureMonitor` has run). */
export function appMetrics(): MetricsPort {
  processMetrics ??= new OtelMetrics();
  return processMetrics;
}

/** Exports the metrics to Azure Monitor where Application Insights is configured; loaded only then. */
export async function startMonitoring(env: Env): Promise<boolean> {
  if (!env.APPLICATIONINSIGHTS_CONNECTION_STRING) return false;
  return (await import('./azure/monitor')).startAzureMonitor(env);
}

let processServices: AppServices | undefined;

/** The process-wide services of the function app. */
export function services(): AppServices {
  processServices ??= lazyServices(process.env);
  return processServices;
}

export type { LazyServices, Services };

/**
 * The repositories of breach containment, on the document store; like every adapter, each module is loaded when
 * first asked for, so the webhook's cold start does not pay for containment.
 */
export function incidentRepositories(lazy: Pick<AppServices, 'store' | 'denyList'>) {
  return {
    incidents: once(
      async () =>
        new (await import('./incidents/store/incident-repository')).CosmosIncidentRepository(await lazy.store()),
    ),
    holds: once(
      async () => new (await import('./incidents/store/hold-repository')).CosmosHoldRepository(await lazy.store()),
    ),
    denyList: lazy.denyList,
  };
}

/** The deny list: written by containment, followed by every webhook instance through its change log. */
export function denyListRepository(
  lazy: Pick<LazyServices, 'store'>,
): () => Promise<DenyListRepository & DenyListFeed> {
  return once(
    async () =>
      new (await import('./incidents/store/deny-list-repository')).CosmosDenyListRepository(await lazy.store()),
  );
}

/**
 * A configuration document: the file a setting names (local development), else the document `documentId` of the
 * `policies` container. The choice is made here, once, so the use cases read a ConfigDocument and never the disk.
 */
export function configDocument(
  env: Env,
  fileSetting: SettingKey,
  documentId: string,
  lazy: Pick<LazyServices, 'store'>,
): ConfigDocument {
  const file = setting(env, fileSetting);
  return file ? jsonFileDocument(file) : storedConfigDocument(lazy.store, documentId);
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
    const { HostFunctionKeys, FileSecrets } = await import('./local/host-function-keys');
    return {
      keys: new HostFunctionKeys(target.hostUrl, target.masterKey, 'allocate'),
      secrets: new FileSecrets(target.secretsFile),
    };
  }
  const [{ ArmFunctionKeys }, { KeyVaultSecrets }, cred] = await Promise.all([
    import('./azure/function-keys'),
    import('./azure/key-vault'),
    credential(target.env),
  ]);
  const app = { subscriptionId: target.subscriptionId, resourceGroup: target.resourceGroup, name: target.appName };
  return {
    keys: new ArmFunctionKeys({ ...app, functionName: 'allocate' }, cred),
    secrets: new KeyVaultSecrets(target.vaultName, cred),
  };
}
