/**
 * Devices provisioning over MQTT through the official transport (`azure-iot-provisioning-device-mqtt`), pointed at
 * the local DPS's MQTT listener (TLS, the local CA) as at a private endpoint: symmetric key (SAS as the password) and
 * X.509 (the client certificate in TLS), a wrong key refused, and an MQTT client speaking the raw topics.
 */
import { connect, type MqttClient } from 'mqtt';

import { deriveDeviceKey, registerSymmetricKeyDevice, registerX509Device } from '../../../dev/device';
import { issue } from '../../../dev/pki';
import { iotTransport } from '../../../shared/azure/transport';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;

/** A raw MQTT client, connected with a well-formed username (any SAS passes CONNECT) and subscribed to the answers. */
async function device(id: string): Promise<MqttClient> {
  const [host, port] = (stack.env.LOCAL_DPS_MQTT_HOST as string).split(':');
  const client = connect(`mqtts://${host}:${port}`, {
    ca: iotTransport(stack.env)?.ca,
    clientId: id,
    username: `${stack.env.DPS_ID_SCOPE}/registrations/${id}/api-version=2019-03-31`,
    password: 'SharedAccessSignature sr=x&sig=y&se=1',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  if (!client.connected)
    await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
  await client.subscribeAsync('$dps/registrations/res/#');
  return client;
}

const GROUP_KEY = Buffer.from('mqtt-group-key-for-tests-only-000').toString('base64');

beforeAll(async () => {
  stack = await startTestStack();
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'mqtt-fleet',
    attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: GROUP_KEY, secondaryKey: GROUP_KEY } },
    allocationPolicy: 'static',
    iotHubHostName: 'hub-eu-1.azure-devices.net',
  });
});
afterAll(async () => {
  await stack.close();
});

test('a symmetric-key device registers over MQTT and lands on its hub; a wrong key is refused', async () => {
  const result = await registerSymmetricKeyDevice(
    stack.env,
    'mqtt-meter-1',
    deriveDeviceKey(GROUP_KEY, 'mqtt-meter-1'),
    { model: 'm1' },
    'mqtt',
  );
  expect(result).toMatchObject({ assignedHub: 'hub-eu-1.azure-devices.net', deviceId: 'mqtt-meter-1' });
  expect(await stack.services.hubs.hub('hub-eu-1.azure-devices.net').getDevice('mqtt-meter-1')).toBeDefined();
  await expect(
    registerSymmetricKeyDevice(
      stack.env,
      'mqtt-meter-2',
      deriveDeviceKey(GROUP_KEY, 'someone-else'),
      undefined,
      'mqtt',
    ),
  ).rejects.toThrow();
});

test('an X.509 device registers over MQTT with its certificate in TLS', async () => {
  const cert = await issue({ subject: 'CN=mqtt-x509-1' });
  await stack.services.enrollments.putEnrollment({
    registrationId: 'mqtt-x509-1',
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: cert.certPem } } } },
    allocationPolicy: 'static',
    iotHubHostName: 'hub-us-1.azure-devices.net',
  });
  const result = await registerX509Device(stack.env, 'mqtt-x509-1', cert.certPem, cert.keyPem, undefined, 'mqtt');
  expect(result.assignedHub).toBe('hub-us-1.azure-devices.net');
});

test('the raw topics: the answer comes to the asking client only, and TPM is refused as DPS refuses it over MQTT', async () => {
  const asking = await device('mqtt-raw-1');
  const other = await device('mqtt-raw-2');
  try {
    const overheard: string[] = [];
    other.on('message', (topic) => overheard.push(topic));
    const answer = new Promise<[string, string]>((resolve) =>
      asking.once('message', (topic, payload) => resolve([topic, payload.toString()])),
    );
    await asking.publishAsync(
      '$dps/registrations/PUT/iotdps-register/?$rid=7',
      JSON.stringify({ registrationId: 'mqtt-raw-1', tpm: { endorsementKey: 'AAAA' } }),
    );
    const [topic, body] = await answer;
    expect(topic).toBe('$dps/registrations/res/400/?$rid=7');
    expect(JSON.parse(body)).toMatchObject({
      errorCode: 400004,
      message: expect.stringContaining('not supported over MQTT'),
    });
    // A round trip on the other client: had the answer been broadcast, it would have arrived before this one.
    const own = new Promise<string>((resolve) => other.once('message', (t) => resolve(t)));
    await other.publishAsync('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=9&operationId=nope', '');
    expect(await own).toBe('$dps/registrations/res/401/?$rid=9'); // its bogus SAS
    expect(overheard).toEqual(['$dps/registrations/res/401/?$rid=9']);
  } finally {
    await Promise.all([asking.endAsync(), other.endAsync()]);
  }
});

test.each([
  ['a forged answer to another device', '$dps/registrations/res/200/?$rid=1'],
  ['a topic DPS does not serve', 'devices/mqtt-forger/messages/events/'],
  ['a register request without its $rid', '$dps/registrations/PUT/iotdps-register/'],
  ['a status request without its operationId', '$dps/registrations/GET/iotdps-get-operationstatus/?$rid=3'],
])('%s is refused: the publisher is disconnected and no device receives it', async (_, topic) => {
  const victim = await device('mqtt-victim');
  const forger = await device('mqtt-forger');
  const received: string[] = [];
  victim.on('message', (t) => received.push(t));
  try {
    const forged = JSON.stringify({
      operationId: 'forged',
      status: 'assigned',
      registrationState: { registrationId: 'mqtt-victim', assignedHub: 'evil-hub.example.net', deviceId: 'x' },
    });
    // QoS 1: a broker that takes the message acknowledges it; one that refuses it closes the connection (MQTT 3.1.1
    // has no negative acknowledgement, MQTT-3.3.5-2).
    const outcome = await Promise.race([
      forger.publishAsync(topic, forged, { qos: 1 }).then(
        () => 'acknowledged',
        () => 'closed',
      ),
      new Promise<string>((resolve) => forger.once('close', () => resolve('closed'))),
    ]);
    expect(outcome).toBe('closed');
    // The victim's own round trip comes after the refusal: a relayed forgery would have been queued before it.
    const own = new Promise<string>((resolve) => victim.once('message', (t) => resolve(t)));
    await victim.publishAsync('$dps/registrations/GET/iotdps-get-operationstatus/?$rid=5&operationId=x', '');
    expect(await own).toBe('$dps/registrations/res/401/?$rid=5');
    expect(received).toEqual(['$dps/registrations/res/401/?$rid=5']);
  } finally {
    await Promise.all([victim.endAsync(true), forger.endAsync(true)]);
  }
});

test('a username without a published api-version is refused at CONNECT', async () => {
  const [host, port] = (stack.env.LOCAL_DPS_MQTT_HOST as string).split(':');
  const client = connect(`mqtts://${host}:${port}`, {
    ca: iotTransport(stack.env)?.ca,
    clientId: 'mqtt-no-version',
    username: `${stack.env.DPS_ID_SCOPE}/registrations/mqtt-no-version/api-version=latest`,
    password: 'SharedAccessSignature sr=x&sig=y&se=1',
    protocolVersion: 4,
    reconnectPeriod: 0,
  });
  try {
    const refused = await new Promise<Error>((resolve) => client.once('error', resolve));
    expect(refused.message).toMatch(/Bad username or password|Connection refused/i);
  } finally {
    client.end(true);
  }
});
