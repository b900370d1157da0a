// Every role assignment of the deployment, in one place so the whole access
// picture reads at a glance. Least privilege: data-plane roles only, each
// scoped to the narrowest resource that works.
//
// Assignment names are guid(scope id, principal id, role definition id):
// deterministic, so re-provisioning is idempotent.

@description('Principal (object) id of the app\'s user-assigned identity.')
param appPrincipalId string

@description('Object id of the deploying user or CI principal; empty skips its roles.')
param userPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal userPrincipalId names.')
param userPrincipalType string = 'User'

@description('Grant the app Azure Service Bus Data Owner on the queue so the Flex scale controller can read the queue length (target-based scaling). Without it, scaling falls back to less accurate signals.')
param serviceBusScaleMonitoring bool = true

param storageAccountName string
param serviceBusNamespaceName string
param queueName string
param keyVaultName string
param applicationInsightsName string

// Built-in role definitions (ids are the same in every tenant).
// Storage Blob Data Owner
var storageBlobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
// Storage Table Data Contributor
var storageTableDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
// Azure Service Bus Data Sender
var serviceBusDataSender = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
// Azure Service Bus Data Receiver
var serviceBusDataReceiver = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')
// Azure Service Bus Data Owner
var serviceBusDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '090c5cfd-751d-490a-894a-3ce6f1109419')
// Key Vault Secrets User
var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
// Key Vault Secrets Officer
var keyVaultSecretsOfficer = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7')
// Monitoring Metrics Publisher
var monitoringMetricsPublisher = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' existing = {
  parent: namespace
  name: queueName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// ---- The app's identity -------------------------------------------------

// Storage Blob Data Owner: the Functions host keeps leases and keys in blobs
// and creates its containers; Flex reads the deployment package from a blob.
// (Storage Queue Data Contributor is needed only for blob triggers: none here.)
resource appStorageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the registrations, failures and audit
// tables, and the host's diagnostic-events table (hence account scope).
resource appStorageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Sender: ingest enqueues; scoped to the one queue.
resource appServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataSender
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Receiver: the processor's trigger; the queue scope
// covers its dead-letter sub-queue.
resource appServiceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataReceiver
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner (optional, queue scope only): reading the
// queue length needs manage rights; the scale controller uses it to size
// the processor's instance count. Turn off for strict least privilege.
resource appServiceBusDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (serviceBusScaleMonitoring) {
  name: guid(queue.id, appPrincipalId, serviceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataOwner
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User: resolve the WEBHOOK_SECRET Key Vault reference.
resource appKeyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsUser
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher: Entra-authenticated telemetry ingestion.
resource appMonitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, appPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: monitoringMetricsPublisher
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The deploying user (so `python -m ops` works against Azure) ---------

// Storage Table Data Contributor: ops reads registrations and failures,
// writes the audit log, and `smoke --cleanup` deletes its test entity.
resource userStorageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// Azure Service Bus Data Sender: `dlq replay` sends to the main queue.
resource userServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(queue.id, userPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataSender
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// Azure Service Bus Data Receiver: `dlq list/show/replay/purge/export`
// peek and settle dead-lettered messages.
resource userServiceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(queue.id, userPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataReceiver
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// Key Vault Secrets Officer: read and rotate the webhook secret.
resource userKeyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsOfficer
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
