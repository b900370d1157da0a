// One StorageV2 account serves three roles:
//   - the Functions host's own storage (AzureWebJobsStorage: blobs for
//     leases and keys, a diagnostics table);
//   - the Flex Consumption deployment package container;
//   - the pipeline's tables: registrations, the processor's failure log,
//     erasure tombstones, the reconciler's checkpoint, the app's own erasure
//     audit, and the operators' audit log.
// Shared keys are off: every caller authenticates with Entra ID, and each
// table gets its own role assignments (infra/app/access.bicep), so the app
// holds no role on the operators' audit table.
// Throughput per account and partition at the peak: docs/capacity.md.

@description('Globally unique storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account.')
param location string

@description('Tags for the account.')
param tags object

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
@description('Replication. The tables are the system of record, so the default keeps a copy in the paired region.')
param skuName string = 'Standard_GRS'

@description('Blob container the Flex Consumption plan deploys the app package to.')
param deploymentContainerName string

@description('Table of registrations (setting REGISTRATIONS_TABLE).')
param registrationsTableName string

@description('Table of the last processing error per message (setting FAILURES_TABLE).')
param failuresTableName string

@description('Table of the operators\' audit log: replays, purges, erasures (setting AUDIT_TABLE). The app holds no role on it.')
param auditTableName string

@description('Table of erasure tombstones (setting TOMBSTONES_TABLE).')
param tombstonesTableName string

@description('Table holding the reconciler\'s checkpoint (setting RECONCILE_STATE_TABLE).')
param reconcileStateTableName string

@description('Table of the erasures the app performs itself (setting APP_AUDIT_TABLE).')
param appAuditTableName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet in this template: the Flex Consumption app, Auth0-triggered ingest and the operator's ops CLI reach storage over its public endpoint; every request needs an Entra token (allowSharedKeyAccess false).
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: public network access stays enabled because the app is not VNet-integrated; shared keys are disabled, so access is RBAC-only.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource registrationsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: registrationsTableName
}

resource failuresTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: failuresTableName
}

resource auditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: auditTableName
}

resource tombstonesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: tombstonesTableName
}

resource reconcileStateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: reconcileStateTableName
}

resource appAuditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: appAuditTableName
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerUrl string = '${storage.properties.primaryEndpoints.blob}${deploymentContainer.name}'
