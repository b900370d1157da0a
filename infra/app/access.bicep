// Every role assignment of the deployment, in one place so the whole access
// picture reads at a glance. Least privilege: data-plane roles only, each
// scoped to the narrowest resource that works. Table roles are scoped to one
// table each (Microsoft.Storage/storageAccounts/tableServices/tables), so the
// app can never rewrite the operators' audit table and the operators can
// never rewrite the app's own erasure record.
//
// Assignment names are guid(scope id, principal id, role definition id):
// deterministic, so re-provisioning is idempotent.

@description('Principal (object) id of the app\'s user-assigned identity.')
param appPrincipalId string

@description('Object id of the operators (an Entra group, a user or a CI principal); empty skips every operator role.')
param operatorPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
@description('Kind of principal operatorPrincipalId names.')
param operatorPrincipalType string = 'Group'

@description('Grant the app Azure Service Bus Data Owner on the queue: the scale controller\'s target-based scaler reads the queue\'s message count through the administration API, which needs Manage rights. Without it, it logs "Target scaler is not supported" and scales from the age of the first message instead.')
param serviceBusScaleMonitoring bool = true

@description('Grant the operators Azure Service Bus Data Owner on the queue (Manage rights: `ops status` reads queue runtime properties) instead of Data Sender + Data Receiver.')
param operatorServiceBusManage bool = true

param storageAccountName string
param serviceBusNamespaceName string
param queueName string
param keyVaultName string
param applicationInsightsName string

@description('Table names, as in main.bicep.')
param registrationsTableName string
param failuresTableName string
param auditTableName string
param tombstonesTableName string
param reconcileStateTableName string
param appAuditTableName string

var hasOperators = !empty(operatorPrincipalId)

// Built-in role definitions (ids are the same in every tenant).
// Storage Blob Data Owner
var storageBlobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
// Storage Table Data Contributor
var storageTableDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
// Storage Table Data Reader
var storageTableDataReader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '76199698-9eea-4c19-bc75-cec21354c6b6')
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

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource registrationsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: registrationsTableName
}

resource failuresTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: failuresTableName
}

resource auditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: auditTableName
}

resource tombstonesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: tombstonesTableName
}

resource reconcileStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: reconcileStateTableName
}

resource appAuditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' existing = {
  parent: tableService
  name: appAuditTableName
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

// Storage Table Data Contributor: the processor writes registrations and
// their time-index entries; erasure deletes them.
resource appRegistrationsTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registrationsTable.id, appPrincipalId, storageTableDataContributor)
  scope: registrationsTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the processor records a message's last
// error; erasure deletes a user's records.
resource appFailuresTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(failuresTable.id, appPrincipalId, storageTableDataContributor)
  scope: failuresTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: a user.deleted message writes a tombstone;
// every later event is checked against it.
resource appTombstonesTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(tombstonesTable.id, appPrincipalId, storageTableDataContributor)
  scope: tombstonesTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the reconciler's timer reads and moves its
// checkpoint.
resource appReconcileStateTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(reconcileStateTable.id, appPrincipalId, storageTableDataContributor)
  scope: reconcileStateTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor: the app records the erasures it performs
// itself (user.deleted) in its own audit table, never in the operators'.
resource appAppAuditTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appAuditTable.id, appPrincipalId, storageTableDataContributor)
  scope: appAuditTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Sender: ingest, Event Streams and the reconciler
// enqueue; scoped to the one queue.
resource appServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataSender
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Receiver: the processor's trigger, and erasure
// removing a user's dead letters; the queue scope covers its dead-letter
// sub-queue.
resource appServiceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, appPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataReceiver
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Azure Service Bus Data Owner (optional, queue scope only): Manage rights,
// which the scale controller's target-based scaler needs to read the queue's
// message count (runtime properties). It also lets the identity change or
// delete this one queue, so a deployment that prefers strict least privilege
// turns it off and accepts coarser scaling.
resource appServiceBusDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (serviceBusScaleMonitoring) {
  name: guid(queue.id, appPrincipalId, serviceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataOwner
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User: resolve the WEBHOOK_SECRET, AUTH0_CLIENT_SECRET and
// AUTH0_EVENTS_TOKEN Key Vault references.
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

// ---- The operators (what `python -m ops` needs against Azure) ------------

// Storage Table Data Contributor: the operators' own audit log; every
// replay, purge and erase writes a row first.
resource operatorAuditTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(auditTable.id, operatorPrincipalId, storageTableDataContributor)
  scope: auditTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Storage Table Data Contributor: `registrations get/list/export` and `ops
// reconcile` read, `registrations erase` and `smoke --cleanup` delete rows.
// (No role on the reconciler's checkpoint table: `ops reconcile` neither
// reads nor moves the timer's checkpoint.)
resource operatorRegistrationsTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(registrationsTable.id, operatorPrincipalId, storageTableDataContributor)
  scope: registrationsTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Storage Table Data Contributor: `dlq list/show` read a message's recorded
// error; `dlq replay/purge` and `registrations erase` delete it.
resource operatorFailuresTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(failuresTable.id, operatorPrincipalId, storageTableDataContributor)
  scope: failuresTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Storage Table Data Contributor: `registrations erase` writes the tombstone.
resource operatorTombstonesTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(tombstonesTable.id, operatorPrincipalId, storageTableDataContributor)
  scope: tombstonesTable
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Storage Table Data Reader: `ops audit list` shows the app's erasures beside
// the operators' rows; read-only, so no operator can rewrite the app's record.
resource operatorAppAuditTableReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(appAuditTable.id, operatorPrincipalId, storageTableDataReader)
  scope: appAuditTable
  properties: {
    roleDefinitionId: storageTableDataReader
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Azure Service Bus Data Owner (queue scope): Manage rights, so `ops status`
// can read the queue's runtime properties (active, scheduled and dead-letter
// counts); it includes send (`dlq replay`) and receive (`dlq list/purge`).
resource operatorServiceBusDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators && operatorServiceBusManage) {
  name: guid(queue.id, operatorPrincipalId, serviceBusDataOwner)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataOwner
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Azure Service Bus Data Sender (without Manage rights): `dlq replay` sends
// to the main queue.
resource operatorServiceBusDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators && !operatorServiceBusManage) {
  name: guid(queue.id, operatorPrincipalId, serviceBusDataSender)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataSender
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Azure Service Bus Data Receiver (without Manage rights): `dlq
// list/show/replay/purge/export` peek and settle dead-lettered messages.
resource operatorServiceBusDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators && !operatorServiceBusManage) {
  name: guid(queue.id, operatorPrincipalId, serviceBusDataReceiver)
  scope: queue
  properties: {
    roleDefinitionId: serviceBusDataReceiver
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

// Key Vault Secrets Officer: read and rotate the webhook secret, the Auth0
// M2M client secret and the Event Streams token.
resource operatorKeyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperators) {
  name: guid(vault.id, operatorPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsOfficer
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
