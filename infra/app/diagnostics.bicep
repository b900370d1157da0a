// Diagnostic settings: the Function App, the Service Bus namespace, the
// storage account's table service and the Key Vault send their resource logs
// and platform metrics to the one Log Analytics workspace, so an operator
// can query an outage across all four in one place (docs/deploy.md,
// "Diagnostics and alerts"). The workspace keeps them for its retention (30
// days by default). The table logs' request URIs hold table keys, and so
// user ids: docs/deploy.md says so.

@description('Resource id of the Log Analytics workspace.')
param logAnalyticsWorkspaceId string

param functionAppName string
param serviceBusNamespaceName string
param storageAccountName string
param keyVaultName string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' existing = {
  name: serviceBusNamespaceName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// FunctionAppLogs: the host's and the functions' log lines (table
// FunctionAppLogs), next to Application Insights' traces.
resource functionAppDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Operational logs (entity create/update/delete, throttling) and the
// namespace's metrics, including the queue's message counts.
resource serviceBusDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: namespace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

// Every read, write and delete on the tables (StorageTableLogs), with the
// caller's identity: who touched the audit tables, and when.
resource tableServiceDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'StorageRead'
        enabled: true
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

// AuditEvent: every secret read (the app resolving a reference) and write
// (a rotation), with the caller's identity.
resource keyVaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}
