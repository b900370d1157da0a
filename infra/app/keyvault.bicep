// Key Vault holding the app's three secrets: the Standard Webhooks secret(s)
// shared with the Auth0 Actions, the Auth0 M2M client secret the reconciler
// uses, and the Event Streams bearer token(s). The app reads each through a
// Key Vault reference in its app setting (WEBHOOK_SECRET,
// AUTH0_CLIENT_SECRET, AUTH0_EVENTS_TOKEN), resolved with the user-assigned
// identity (Key Vault Secrets User). RBAC authorization, soft delete and
// purge protection are on.

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

@secure()
@description('Client secret of the Auth0 M2M application the reconciler signs in with (read:users only). Empty: no secret is created and the app setting stays empty.')
param auth0ClientSecret string = ''

@description('Name of the Auth0 M2M client secret inside the vault.')
param auth0ClientSecretName string = 'auth0-client-secret'

@secure()
@description('Bearer token(s) Auth0 Event Streams presents, space-separated during a rotation. Empty: no secret is created and the app setting stays empty.')
param auth0EventsToken string = ''

@description('Name of the Event Streams token inside the vault.')
param auth0EventsTokenName string = 'auth0-events-token'

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

resource auth0ClientSecretEntry 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(auth0ClientSecret)) {
  // checkov:skip=CKV_AZURE_114: false positive: checkov reads no properties of a resource behind a deploy condition (`if`); contentType is set below.
  // checkov:skip=CKV_AZURE_41: no expiry date on purpose: an expired secret stops the reconciler, the backstop for every missed signup; Auth0 client secrets are rotated by the operator (docs/deploy.md, "Rotate a secret").
  parent: vault
  name: auth0ClientSecretName
  properties: {
    value: auth0ClientSecret
    contentType: 'text/plain; Auth0 M2M client secret (read:users)'
  }
}

resource auth0EventsTokenEntry 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(auth0EventsToken)) {
  // checkov:skip=CKV_AZURE_114: false positive: checkov reads no properties of a resource behind a deploy condition (`if`); contentType is set below.
  // checkov:skip=CKV_AZURE_41: no expiry date on purpose: an expired token makes every Event Streams delivery a 401, and Auth0 disables a stream that keeps failing; rotation is an operator step (docs/deploy.md, "Rotate a secret").
  parent: vault
  name: auth0EventsTokenName
  properties: {
    value: auth0EventsToken
    contentType: 'text/plain; one or more space-separated Event Streams bearer tokens'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URI: the app picks up a new secret version without a redeploy.
output webhookSecretUri string = webhookSecretEntry.properties.secretUri
// Empty when the secret was not given, so the app setting stays empty rather
// than pointing at a secret that does not exist.
output auth0ClientSecretUri string = empty(auth0ClientSecret) ? '' : auth0ClientSecretEntry.properties.secretUri
output auth0EventsTokenUri string = empty(auth0EventsToken) ? '' : auth0EventsTokenEntry.properties.secretUri
