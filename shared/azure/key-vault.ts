/** SecretsPort on `@azure/keyvault-secrets`: a new version of the secret, with the caller's identity. */
import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';

import type { SecretsPort } from '../ports';

export class KeyVaultSecrets implements SecretsPort {
  private readonly client: SecretClient;

  constructor(vaultName: string, credential: TokenCredential) {
    this.client = new SecretClient(`https://${vaultName}.vault.azure.net`, credential);
  }

  async set(name: string, value: string): Promise<void> {
    await this.client.setSecret(name, value);
  }
}
