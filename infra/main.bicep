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

@description('Object id of the principal running azd (azd sets AZURE_PRINCIPAL_ID); it is the operator when operatorsPrincipalId is empty.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal principalId names; ServicePrincipal when azd runs in CI.')
param principalType string = 'User'

@description('Object id of the operators\' Entra group (or user, or CI principal): they get the roles `python -m ops` needs. Empty: the deploying principal (principalId) is the operator.')
param operatorsPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal operatorsPrincipalId names.')
param operatorsPrincipalType string = 'Group'

@description('Give the operators Azure Service Bus Data Owner on the queue (Manage rights for `ops status`); false: Data Sender + Data Receiver only, and `ops status` is refused.')
param operatorsServiceBusManage bool = true

@secure()
@minLength(32)
@description('Standard Webhooks secret(s) shared with the Auth0 Action: `whsec_` + base64, several space-separated during a rotation. Set with `azd env set WEBHOOK_SECRET ...`.')
param webhookSecret string

@secure()
@description('Client secret of the Auth0 M2M application (read:users only) the reconciler signs in with; stored in Key Vault. Empty: the reconciler is not configured.')
param auth0ClientSecret string = ''

@secure()
@description('Bearer token(s) Auth0 Event Streams sends to /api/auth0-events, space-separated during a rotation; stored in Key Vault. Empty: the route refuses every delivery.')
param auth0EventsToken string = ''

@description('Auth0 tenant domain, e.g. example.eu.auth0.com (AUTH0_DOMAIN).')
param auth0Domain string = ''

@description('Client id of the Auth0 M2M application (AUTH0_CLIENT_ID).')
param auth0ClientId string = ''

@description('Auth0 tenant id; must equal the Actions\' event.tenant.id (AUTH0_TENANT_ID).')
param auth0TenantId string = ''

@description('Personal fields the reconciler and Event Streams copy into the table, same values as the Actions\' SEND_FIELDS secret.')
param sendFields string = 'none'

@description('NCRONTAB schedule of the reconciler\'s timer (RECONCILE_SCHEDULE).')
param reconcileSchedule string = '0 */10 * * * *'

@description('Management API requests per second the reconciler stays under (RECONCILE_MAX_RPS), as a decimal string.')
param reconcileMaxRps string = '1.0'

@minValue(0)
@description('Seconds the reconciler stays behind now (RECONCILE_SETTLE_LAG_SECONDS).')
param reconcileSettleLagSeconds int = 120

@description('Email address that receives the alerts (dead letters, ingest 5xx, 401 spike). Empty: the alerts fire without notifying anyone.')
param alertEmail string = ''

@minValue(1)
@description('401 answers within 5 minutes that raise the 401-spike alert.')
param unauthorizedAlertThreshold int = 20

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

@allowed([
  1
  2
  4
  8
  16
])
@description('Premium messaging units (ignored on Standard); size by the namespace CPU metric, see docs/capacity.md.')
param serviceBusPremiumMessagingUnits int = 1

@description('Give the app Azure Service Bus Data Owner on the queue so the scale controller\'s target-based scaler can read its message count (see infra/app/access.bicep).')
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
var tombstonesTableName = 'tombstones'
var reconcileStateTableName = 'reconcilestate'
var appAuditTableName = 'apperasures'

// The operators: a dedicated principal (an Entra group) when given, else
// whoever runs azd, so a one-person deployment can use `ops` at once.
var operatorPrincipalId = empty(operatorsPrincipalId) ? principalId : operatorsPrincipalId
var operatorPrincipalType = empty(operatorsPrincipalId) ? principalType : operatorsPrincipalType

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
    tombstonesTableName: tombstonesTableName
    reconcileStateTableName: reconcileStateTableName
    appAuditTableName: appAuditTableName
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
    premiumMessagingUnits: serviceBusPremiumMessagingUnits
    // The largest queue each tier allows: 5 GB is 15 minutes of backlog at the
    // 10M/hour peak, 80 GB four hours (docs/capacity.md).
    maxSizeInMegabytes: (serviceBusSku == 'Premium') ? 81920 : 5120
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
    auth0ClientSecret: auth0ClientSecret
    auth0EventsToken: auth0EventsToken
  }
}

module access 'app/access.bicep' = {
  name: 'access'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
    serviceBusScaleMonitoring: serviceBusScaleMonitoring
    operatorServiceBusManage: operatorsServiceBusManage
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    queueName: serviceBus.outputs.queueName
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    registrationsTableName: registrationsTableName
    failuresTableName: failuresTableName
    auditTableName: auditTableName
    tombstonesTableName: tombstonesTableName
    reconcileStateTableName: reconcileStateTableName
    appAuditTableName: appAuditTableName
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
    tombstonesTableName: tombstonesTableName
    reconcileStateTableName: reconcileStateTableName
    appAuditTableName: appAuditTableName
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    auth0ClientSecretUri: keyVault.outputs.auth0ClientSecretUri
    auth0EventsTokenUri: keyVault.outputs.auth0EventsTokenUri
    auth0Domain: auth0Domain
    auth0ClientId: auth0ClientId
    auth0TenantId: auth0TenantId
    sendFields: sendFields
    reconcileSchedule: reconcileSchedule
    reconcileMaxRps: reconcileMaxRps
    reconcileSettleLagSeconds: reconcileSettleLagSeconds
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

module diagnostics 'app/diagnostics.bicep' = {
  name: 'diagnostics'
  scope: rg
  params: {
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    functionAppName: functionApp.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: resourceToken
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.id
    queueName: serviceBus.outputs.queueName
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    unauthorizedThreshold: unauthorizedAlertThreshold
  }
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
output TOMBSTONES_TABLE string = tombstonesTableName
output RECONCILE_STATE_TABLE string = reconcileStateTableName
output APP_AUDIT_TABLE string = appAuditTableName
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.logAnalyticsName
output AUTH0_EVENTS_URL string = 'https://${functionApp.outputs.defaultHostName}/api/auth0-events'
output KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output INGEST_URL string = 'https://${functionApp.outputs.defaultHostName}/api/registrations'
