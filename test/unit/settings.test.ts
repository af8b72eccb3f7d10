/** Development secrets never in Azure: the app refuses to start there with any setting of the local stack. */
import { assertNoLocalSettingsInAzure, localSettingsInAzure } from '../../shared/settings';

const local = {
  LOCAL_BEARER_SECRETS: '@admin=dev-admin-secret-not-a-secret',
  DPS_CONNECTION_STRING: 'HostName=x;SharedAccessKey=y',
};

test('outside Azure the local stack may use its settings', () => {
  expect(localSettingsInAzure(local)).toEqual([]);
  expect(() => assertNoLocalSettingsInAzure(local)).not.toThrow();
});

test('in Azure every local-only setting is refused, by name, and identity settings pass', () => {
  for (const platform of [{ WEBSITE_SITE_NAME: 'func-dpsl' }, { WEBSITE_INSTANCE_ID: 'abc123' }]) {
    expect(localSettingsInAzure({ ...platform, ...local }).sort()).toEqual([
      'DPS_CONNECTION_STRING',
      'LOCAL_BEARER_SECRETS',
    ]);
    expect(() => assertNoLocalSettingsInAzure({ ...platform, LOCAL_BEARER_SECRETS: 'x' })).toThrow(
      /Refusing to start: LOCAL_BEARER_SECRETS is a setting of the local stack only/,
    );
  }
  const identityOnly = {
    WEBSITE_SITE_NAME: 'func-dpsl',
    DPS_HOST_NAME: 'dps.azure-devices-provisioning.net',
    COSMOS_CONNECTION__accountEndpoint: 'https://x/',
  };
  expect(() => assertNoLocalSettingsInAzure(identityOnly)).not.toThrow();
});

test('in Azure a secret the credential chain would sign in with before the managed identity is refused', () => {
  const principal = { AZURE_TENANT_ID: 't', AZURE_CLIENT_ID: 'c', AZURE_CLIENT_SECRET: 's' };
  expect(localSettingsInAzure({ WEBSITE_SITE_NAME: 'func-dpsl', ...principal })).toEqual(['AZURE_CLIENT_SECRET']);
  expect(() => assertNoLocalSettingsInAzure({ WEBSITE_INSTANCE_ID: 'abc', AZURE_PASSWORD: 'p' })).toThrow(
    /Refusing to start: AZURE_PASSWORD/,
  );
  for (const name of ['AZURE_FEDERATED_TOKEN_FILE', 'AZURE_TOKEN_CREDENTIALS'])
    expect(localSettingsInAzure({ WEBSITE_SITE_NAME: 'func-dpsl', [name]: 'x' })).toEqual([name]);
  // The user-assigned identity's client ID is not a secret.
  expect(localSettingsInAzure({ WEBSITE_SITE_NAME: 'func-dpsl', AZURE_CLIENT_ID: 'c' })).toEqual([]);
});
