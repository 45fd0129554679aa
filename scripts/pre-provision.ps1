# azd preprovision hook (Windows twin of pre-provision.sh): may `azd provision` write the initial
# Key Vault secrets? Only if they don't exist yet, so a re-provision never replaces a real TomTom API
# key with the placeholder nor rotates the callback signing secret. Sets GEMFLOW_SEED_SECRETS.
$ErrorActionPreference = 'Stop'

if (-not $env:AZURE_ENV_NAME) { throw 'AZURE_ENV_NAME is not set: run this through azd' }
$seed = 'true'
$rg = if ($env:AZURE_RESOURCE_GROUP) { $env:AZURE_RESOURCE_GROUP } else { "rg-$($env:AZURE_ENV_NAME)" }
$vault = $env:KEY_VAULT_NAME

if (-not $vault -and ((az group exists --name $rg) -eq 'true')) {
  $vault = az keyvault list --resource-group $rg --query '[0].name' -o tsv 2>$null
}

if ($vault) {
  az keyvault show --name $vault --query name -o tsv 2>$null | Out-Null
  if ($LASTEXITCODE -eq 0) {
    $names = az keyvault secret list --vault-name $vault --query '[].name' -o tsv
    if ($LASTEXITCODE -ne 0) {
      throw "Cannot list the secrets of Key Vault '$vault'. Grant yourself 'Key Vault Secrets Officer' on it (or azd env set GEMFLOW_SEED_SECRETS false and skip this hook)."
    }
    $names = @($names -split "`r?`n")
    if (($names -contains 'tomtom-api-key') -and ($names -contains 'notify-signing-secret')) { $seed = 'false' }
  }
}

Write-Host "GEMFLOW_SEED_SECRETS=$seed (true: provisioning writes the initial Key Vault secrets; false: they exist and are left alone)"
azd env set GEMFLOW_SEED_SECRETS $seed
