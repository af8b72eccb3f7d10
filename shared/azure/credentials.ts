/** One Entra ID credential per process (managed identity in Azure; developer login elsewhere). */
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';

import { type Env, setting } from '../settings';

let credential: TokenCredential | undefined;

export function azureCredential(env: Env): TokenCredential {
  credential ??= new DefaultAzureCredential({ managedIdentityClientId: setting(env, 'clientId') });
  return credential;
}
