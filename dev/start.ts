/**
 * `npm start`: the backend on its local stack. Brings up the local CA, the DPS/IoT Hub simulator, Cosmos, Azurite
 * and the local Functions host, seeds the demo, prints what runs where, and stays up until Ctrl-C.
 * Data is kept in `.data/` (snapshots of Cosmos and the simulator, Azurite's files, the event log).
 */
import 'reflect-metadata';

import { join } from 'node:path';

import { faultsFile, followFaultPlan, initialFaultPlan } from './faults/settings';
import { startFunctionsHost } from './host/host';
import { consoleLink, loadLocalSettings, localHostKeys, ROOT } from './local-settings';
import { seedDemo } from './seed';
import { DEMO_ADR, DEMO_CERTIFICATES_GROUP, seedAdrDemo, seedCertificatesGroup } from './seed-certificates';
import { startLocalStack } from './stack';

async function main(): Promise<void> {
  const settings = loadLocalSettings();
  const dataDir = join(ROOT, '.data');
  const log = (line: string) => console.log(line);
  const faultPlanFile = faultsFile(settings.Values);
  const stack = await startLocalStack(settings, {
    dataDir,
    persistent: true,
    log,
    faults: initialFaultPlan(faultPlanFile),
  });
  const unfollow = faultPlanFile && stack.faults ? followFaultPlan(faultPlanFile, stack.faults, log) : undefined;
  Object.assign(process.env, stack.env);

  // Loaded only now: the functions read their settings from process.env.
  const { registeredFunctions } = await import('../functions/index');
  const { services } = await import('../shared/composition');
  const v = stack.env;
  const host = await startFunctionsHost({
    registrations: registeredFunctions(),
    port: settings.Host?.LocalHttpPort ?? 7071,
    ...localHostKeys(v),
    env: process.env,
    log,
  });
  // Imported enrollments use custom allocation through this webhook (in Azure: a Key Vault reference).
  process.env.ALLOCATION_WEBHOOK_URL = `${host.baseUrl}/api/allocate?code=${encodeURIComponent(v.DEV_FUNCTION_KEY)}`;
  const demo = await seedDemo(
    await services().enrollments(),
    `${host.baseUrl}/api/allocate?code=${encodeURIComponent(v.DEV_FUNCTION_KEY)}`,
  );
  // Certificate issuance: the demo ADR namespace, its CAs and policy, and a DPS group that names the policy.
  await seedAdrDemo(v);
  await seedCertificatesGroup(v);

  console.log(`
dps-lifecycle local stack is up (Ctrl-C to stop)
  Console          ${consoleLink(host.baseUrl, v)}
                   (signed in as the local admin; the key opens the console's functions only: ${v.DEV_CONSOLE_KEY})
  Functions host   ${host.baseUrl}/api/…   function key: x-functions-key: ${v.DEV_FUNCTION_KEY}   master key: ${v.DEV_MASTER_KEY}
${registeredFunctions()
  .map(
    (r) =>
      `    ${r.trigger.padEnd(12)} ${r.name}${r.trigger === 'http' ? `  ${(r.options.methods ?? ['GET', 'POST']).join(',')} /api/${r.options.route ?? r.name}` : ''}`,
  )
  .join('\n')}
  DPS (service)    https://${v.DPS_HOST_NAME}  → ${v.LOCAL_IOT_ENDPOINT}   ID scope ${v.DPS_ID_SCOPE}
  DPS (devices)    https://global.azure-devices-provisioning.net → ${v.LOCAL_IOT_ENDPOINT}
                   mqtts://${v.LOCAL_DPS_MQTT_HOST} (MQTT: npm run demo:register -- --mqtt)
  IoT hubs         ${v.IOTHUB_HOST_NAMES.split(',').join(', ')} → ${v.LOCAL_IOT_ENDPOINT}
  Cosmos DB        ${stack.cosmos.endpoint} (database ${v.COSMOS_DATABASE})
  Azurite          ${/QueueEndpoint=([^;]+)/.exec(v.AzureWebJobsStorage)?.[1]} (queues), ${/BlobEndpoint=([^;]+)/.exec(v.AzureWebJobsStorage)?.[1]} (blobs)
  Event log        ${v.EVENT_LOG_PATH}
  Local CA         ${v.LOCAL_CA_FILE}
  Faults           ${faultPlanFile ? `${faultPlanFile} (${stack.faults?.current().rules.length} rules; reloaded when it changes; Cosmos and Azurite through fault proxies)` : 'none (set LOCAL_FAULTS_FILE to a fault plan)'}
  ADR              https://management.azure.com → ${v.LOCAL_IOT_ENDPOINT} (api-version 2026-11-01, any bearer token)
                   namespace ${DEMO_ADR.namespace}: root ${DEMO_ADR.root}, intermediate ${DEMO_ADR.ica}, policy ${DEMO_ADR.policy} (${DEMO_ADR.validityPeriodInDays} days)
                   group ${DEMO_CERTIFICATES_GROUP} names it; devices that send a CSR: npm run demo:certificates
  Demo             enrollment group ${demo.groupId} (custom allocation → ${host.baseUrl}/api/allocate)
                   register a device: npm run demo:register
  Manufacturers    ${settings.Values.MANUFACTURERS_FILE} — demo acme-tpm, Authorization: Bearer ${/acme-tpm=([^,]+)/.exec(v.LOCAL_BEARER_SECRETS ?? '')?.[1]}
                   import EKs: npx dps-lifecycle import FILE --manufacturer acme-tpm --follow
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('stopping…');
    unfollow?.();
    if (stack.faults) console.log(`faults: ${stack.faults.summary()}`);
    await host.close();
    await (await services().events()).close();
    await stack.close();
    console.log('stopped; data kept in .data/');
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
