/**
 * A CSR over DPS's MQTT device API: the register message's payload is the DeviceRegistration object (iot-mqtt-connect-
 * to-iot-dps), so under a username naming api-version 2026-11-01 it carries `csr`, and the operation status answer
 * carries the chain. Under an older api-version the CSR is refused, as over HTTPS. (MQTT messages are not recorded by
 * the HTTP contract check; their bodies are the same objects the HTTPS tests check.)
 */
import { connect, type MqttClient } from 'mqtt';

import { checkIssuedChain, deriveDeviceKey } from '../../../dev/device';
import { newCsr } from '../../../dev/device-csr';
import { DEMO_ADR, seedAdrDemo, seedCertificatesGroup } from '../../../dev/seed-certificates';
import { sign } from '../../../dev/sim/sas';
import { iotTransport } from '../../../shared/azure/transport';
import { eventually } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let groupKey: string;

beforeAll(async () => {
  stack = await startTestStack();
  await seedAdrDemo(stack.env);
  groupKey = (await seedCertificatesGroup(stack.env)).primaryKey;
});
afterAll(async () => {
  await stack?.close();
});

/** A device connected over MQTT with its real SAS, subscribed to its answers. */
async function device(id: string, apiVersion: string): Promise<MqttClient> {
  const [host, port] = (stack.env.LOCAL_DPS_MQTT_HOST as string).split(':');
  const resource = `${stack.env.DPS_ID_SCOPE}/registrations/${id}`;
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const sig = sign(encodeURIComponent(resource), deriveDeviceKey(groupKey, id), expiry);
  const client = connect(`mqtts://${host}:${port}`, {
    ca: iotTransport(stack.env)?.ca,
    clientId: id,
    username: `${resource}/api-version=${apiVersion}`,
    password: `SharedAccessSignature sr=${encodeURIComponent(resource)}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=registration`,
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  if (!client.connected)
    await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
  await client.subscribeAsync('$dps/registrations/res/#');
  return client;
}

/** Publishes one request and resolves with the answer's status and body. */
function ask(
  client: MqttClient,
  topic: string,
  payload: object = {},
  query = '',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const rid = Math.random().toString(36).slice(2);
  return new Promise((resolve) => {
    const onMessage = (t: string, message: Buffer) => {
      const m = /^\$dps\/registrations\/res\/(\d+)\/\?\$rid=([^&]+)/.exec(t);
      if (m?.[2] !== rid) return;
      client.off('message', onMessage);
      resolve({ status: Number(m[1]), body: JSON.parse(message.toString()) });
    };
    client.on('message', onMessage);
    void client.publishAsync(`${topic}?$rid=${rid}${query}`, JSON.stringify(payload));
  });
}

test('under api-version 2026-11-01 a CSR over MQTT gets its chain in the operation status', async () => {
  const id = 'cert-mqtt-1';
  const client = await device(id, '2026-11-01');
  try {
    const { csr, keyPem } = await newCsr(id);
    const started = await ask(client, '$dps/registrations/PUT/iotdps-register/', { registrationId: id, csr });
    expect(started.status).toBe(202);
    const operation = `&operationId=${String(started.body.operationId)}`;
    const answer = await eventually(async () => {
      const polled = await ask(client, '$dps/registrations/GET/iotdps-get-operationstatus/', {}, operation);
      return polled.status !== 202 && polled;
    }, 'the registration leaving "assigning"');
    expect(answer).toMatchObject({ status: 200, body: { status: 'assigned' } });
    const state = answer.body.registrationState as { issuedCertificateChain: string[] };
    const root = stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root).properties.certificatePem as string;
    const rootDer = Buffer.from(root.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    checkIssuedChain(
      { registrationId: id, keyPem, issuedCertificateChain: state.issuedCertificateChain },
      { rootDer, validityDays: DEMO_ADR.validityPeriodInDays },
    );
  } finally {
    await client.endAsync();
  }
});

test('under the older api-version of the MQTT docs a CSR is refused (400)', async () => {
  const id = 'cert-mqtt-2';
  const client = await device(id, '2019-03-31');
  try {
    const { csr } = await newCsr(id);
    const answer = await ask(client, '$dps/registrations/PUT/iotdps-register/', { registrationId: id, csr });
    expect(answer).toMatchObject({ status: 400, body: { errorCode: 400004 } });
  } finally {
    await client.endAsync();
  }
});
