// Key Vault holding the Standard Webhooks secret(s) shared with the Auth0
// Action. The app reads it through a Key Vault reference in the WEBHOOK_SECRET
// app setting, resolved with the user-assigned identity (Key Vault Secrets
// User). RBAC authorization, soft delete and purge protection are on.

@description('Globally unique vault name (3-24 letters, digits, hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the vault.')
param location string

@description('Tags for the vault.')
param tags object

@secure()
@description('Value of the webhook secret: one or more space-separated whsec_... secrets.')
param webhookSecret string

@description('Name of the secret inside the vault (vault names allow no underscore).')
param webhookSecretName string = 'webhook-secret'

@minValue(7)
@maxValue(90)
@description('Days a deleted vault or secret stays recoverable (purge protection keeps it until then).')
param softDeleteRetentionInDays int = 7

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: no firewall: the Flex Consumption app is not VNet-integrated in this template, so Key Vault references resolve over the public endpoint; RBAC authorization is on and only the app identity (Secrets User) and the deployer (Secrets Officer) hold data roles.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: public network access is required without VNet integration.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource webhookSecretEntry 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry date on purpose: an expired secret makes the app answer 401 to every signup while Auth0 never retries; rotation is an operator step (docs/deploy.md, "Rotate the webhook secret").
  parent: vault
  name: webhookSecretName
  properties: {
    value: webhookSecret
    contentType: 'text/plain; one or more space-separated Standard Webhooks whsec_ secrets'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URI: the app picks up a new secret version without a redeploy.
output webhookSecretUri string = webhookSecretEntry.properties.secretUri
