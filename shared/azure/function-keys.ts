/**
 * WebhookKeysPort on `@azure/arm-appservice`: the keys of one function of the function app, through Azure Resource
 * Manager with the caller's identity (an operator's `az login`, or a workload identity with rights on the app's
 * function keys). The Functions host itself generates a key when no value is given.
 */
import { WebSiteManagementClient } from '@azure/arm-appservice';
import type { TokenCredential } from '@azure/identity';

import type { WebhookKeysPort } from '../ports';

export interface FunctionApp {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  functionName: string;
}

export class ArmFunctionKeys implements WebhookKeysPort {
  private readonly client: WebSiteManagementClient;

  constructor(
    private readonly app: FunctionApp,
    credential: TokenCredential,
  ) {
    this.client = new WebSiteManagementClient(credential, app.subscriptionId);
  }

  async list(): Promise<Array<{ name: string; value: string }>> {
    const { properties } = await this.client.webApps.listFunctionKeys(
      this.app.resourceGroup,
      this.app.name,
      this.app.functionName,
    );
    return Object.entries(properties ?? {}).map(([name, value]) => ({ name, value }));
  }

  async put(name: string, value?: string): Promise<string> {
    const key = await this.client.webApps.createOrUpdateFunctionSecret(
      this.app.resourceGroup,
      this.app.name,
      this.app.functionName,
      name,
      { name, ...(value ? { value } : {}) },
    );
    if (!key.value) throw new Error(`the function app did not return the value of key ${name}`);
    return key.value;
  }

  async remove(name: string): Promise<void> {
    await this.client.webApps.deleteFunctionSecret(this.app.resourceGroup, this.app.name, this.app.functionName, name);
  }
}
