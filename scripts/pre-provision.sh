#!/bin/sh
# azd preprovision hook: may `azd provision` write the initial Key Vault secrets?
#
# A Key Vault secret PUT always creates a new *latest* version, so provisioning again would replace a
# real TomTom API key with the placeholder and rotate the callback signing secret. This hook looks
# for the secrets in the environment's vault and tells the Bicep (parameter seedSecrets, via the azd
# environment value GEMFLOW_SEED_SECRETS) to seed them only if they aren't there yet.
# Needs: az (logged in), azd. Reads AZURE_ENV_NAME, and KEY_VAULT_NAME / AZURE_RESOURCE_GROUP when a
# previous provision has stored them.
set -eu

seed=true
rg="${AZURE_RESOURCE_GROUP:-rg-${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set: run this through azd}}"
vault="${KEY_VAULT_NAME:-}"

if [ -z "$vault" ] && [ "$(az group exists --name "$rg" 2>/dev/null || echo false)" = "true" ]; then
  # The azd environment was re-created (new machine, azd env refresh not run): find the vault by group.
  vault="$(az keyvault list --resource-group "$rg" --query "[0].name" -o tsv 2>/dev/null || true)"
fi

if [ -n "$vault" ] && az keyvault show --name "$vault" --query name -o tsv >/dev/null 2>&1; then
  if ! names="$(az keyvault secret list --vault-name "$vault" --query "[].name" -o tsv)"; then
    echo "Cannot list the secrets of Key Vault '$vault'." >&2
    echo "Grant yourself 'Key Vault Secrets Officer' on it (or set GEMFLOW_SEED_SECRETS=false with azd env set and skip this hook)." >&2
    exit 1
  fi
  if printf '%s\n' "$names" | grep -qx 'tomtom-api-key' && printf '%s\n' "$names" | grep -qx 'notify-signing-secret'; then
    seed=false
  fi
fi

echo "GEMFLOW_SEED_SECRETS=$seed (true: provisioning writes the initial Key Vault secrets; false: they exist and are left alone)"
azd env set GEMFLOW_SEED_SECRETS "$seed"
