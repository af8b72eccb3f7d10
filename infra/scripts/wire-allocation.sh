#!/usr/bin/env sh
# azd postdeploy hook: puts the allocation webhook URL, with a function key of its own, into Key Vault.
# DPS needs the key inside the URL of every enrollment group that uses custom allocation; the key is made by
# the Functions host, read here with the operator's Azure login, and never written to the repo or to azd's env.
# Then: `az keyvault secret show --vault-name $AZURE_KEY_VAULT_NAME --name allocation-webhook-url --query value -o tsv`
# gives the URL to set as customAllocationDefinition.webhookUrl (apiVersion 2021-10-01) on the groups.
set -eu
: "${AZURE_RESOURCE_GROUP:?}" "${AZURE_FUNCTION_APP_NAME:?}" "${AZURE_KEY_VAULT_NAME:?}" "${SERVICE_API_URL:?}"
# Reuse the key once made: `keys set` without a value makes a new one, and every enrollment already carrying the old
# key in its webhook URL would then get 401 (DPS fails its devices with 400209). To change the key on purpose, run
# `npx dps-lifecycle webhook rotate-key`: it rewrites every enrollment first and removes the old key last.
key=$(az functionapp function keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --function-name allocate --query dps -o tsv 2>/dev/null || true)
if [ -z "$key" ]; then
  key=$(az functionapp function keys set --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --function-name allocate --key-name dps --query value -o tsv)
fi
az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name allocation-webhook-url \
  --value "$SERVICE_API_URL/api/allocate?code=$key" --output none
echo "allocation webhook URL stored in Key Vault $AZURE_KEY_VAULT_NAME as secret allocation-webhook-url"
