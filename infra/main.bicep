// Entry point for `azd up`: creates the resource group and everything in it.
// Resource names derive from a token unique to (subscription, environment,
// region), so two azd environments never collide.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Region for every resource; it must offer Flex Consumption (`az functionapp list-flexconsumption-locations`).')
param location string

@description('Object id of the principal running azd (azd sets AZURE_PRINCIPAL_ID); gets the data roles `python -m ops` needs. Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal principalId names; ServicePrincipal when azd runs in CI.')
param principalType string = 'User'

@secure()
@minLength(32)
@description('Standard Webhooks secret(s) shared with the Auth0 Action: `whsec_` + base64, several space-separated during a rotation. Set with `azd env set WEBHOOK_SECRET ...`.')
param webhookSecret string

@allowed([
  2048
  4096
])
@description('Memory per Function App instance in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Most instances the Function App may scale out to.')
param maximumInstanceCount int = 100

@minValue(0)
@maxValue(20)
@description('Always-ready (pre-warmed, always billed) instances for ingest; 0 keeps the app free at rest.')
param httpAlwaysReadyInstanceCount int = 0

@minValue(1)
@maxValue(1000)
@description('Concurrent ingest (HTTP) requests per instance; see docs/capacity.md.')
param httpPerInstanceConcurrency int = 16

@allowed([
  'Standard'
  'Premium'
])
@description('Service Bus tier: Standard suffices for the 1M signups/hour design peak; Premium beyond it (docs/capacity.md).')
param serviceBusSku string = 'Standard'

@description('Give the app Azure Service Bus Data Owner on the queue so the scale controller can read its length (see infra/app/access.bicep).')
param serviceBusScaleMonitoring bool = true

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

// Names the code reads through settings; keep equal to the Settings defaults
// and the emulator config (tests/infra/test_settings_drift.py checks).
var registrationsQueueName = 'registrations'
var registrationsTableName = 'registrations'
var failuresTableName = 'registrationfailures'
var auditTableName = 'opsaudit'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    registrationsTableName: registrationsTableName
    failuresTableName: failuresTableName
    auditTableName: auditTableName
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-${resourceToken}'
    location: location
    tags: tags
    queueName: registrationsQueueName
    namespaceTier: serviceBusSku
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    webhookSecret: webhookSecret
  }
}

module access 'app/access.bicep' = {
  name: 'access'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    serviceBusScaleMonitoring: serviceBusScaleMonitoring
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueName: serviceBus.outputs.queueName
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: 'func-${resourceToken}'
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    registrationsQueueName: serviceBus.outputs.queueName
    registrationsTableName: registrationsTableName
    failuresTableName: failuresTableName
    auditTableName: auditTableName
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    httpAlwaysReadyInstanceCount: httpAlwaysReadyInstanceCount
    httpPerInstanceConcurrency: httpPerInstanceConcurrency
  }
  // The host needs its storage and Key Vault roles the moment it starts.
  dependsOn: [
    access
  ]
}

// azd stores these in .azure/<env>/.env (`azd env get-values`).
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_USER_ASSIGNED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output SERVICEBUS_NAMESPACE_NAME string = serviceBus.outputs.name
output REGISTRATIONS_QUEUE string = serviceBus.outputs.queueName
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output TABLES_SERVICE_URI string = storage.outputs.tableEndpoint
output REGISTRATIONS_TABLE string = registrationsTableName
output FAILURES_TABLE string = failuresTableName
output AUDIT_TABLE string = auditTableName
output KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output INGEST_URL string = 'https://${functionApp.outputs.defaultHostName}/api/registrations'
