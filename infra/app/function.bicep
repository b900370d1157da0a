// The Function App on the Flex Consumption plan (Linux, Python 3.11), running
// as the user-assigned identity. Every connection is identity-based: there is
// no connection string or key in any app setting.

@description('Globally unique Function App name; also the host name prefix.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Region of the plan and the app.')
param location string

@description('Tags for the plan and the app; the app adds azd-service-name.')
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (the __clientId of every connection).')
param identityClientId string

@description('Storage account: host storage, deployment container and tables.')
param storageAccountName string

@description('Blob URL of the container the plan deploys the package to.')
param deploymentContainerUrl string

@description('Blob endpoint of the storage account.')
param blobEndpoint string

@description('Queue endpoint of the storage account.')
param queueEndpoint string

@description('Table endpoint of the storage account.')
param tableEndpoint string

@description('Service Bus namespace host name, e.g. sb-x.servicebus.windows.net.')
param serviceBusFullyQualifiedNamespace string

@description('Queue name (REGISTRATIONS_QUEUE).')
param registrationsQueueName string

@description('Table of registrations (REGISTRATIONS_TABLE).')
param registrationsTableName string

@description('Table of processing failures (FAILURES_TABLE).')
param failuresTableName string

@description('Table of ops replays and purges (AUDIT_TABLE).')
param auditTableName string

@description('Versionless Key Vault URI of the webhook secret.')
param webhookSecretUri string

@description('Application Insights connection string (not a credential: local auth is off).')
param applicationInsightsConnectionString string

@allowed([
  2048
  4096
])
@description('Memory of each instance; CPU and network scale with it.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Upper bound of instances across all functions of the app.')
param maximumInstanceCount int = 100

@minValue(0)
@maxValue(20)
@description('Always-ready instances for the HTTP (ingest) group; 0 scales to zero and bills nothing at rest.')
param httpAlwaysReadyInstanceCount int = 0

@minValue(1)
@maxValue(1000)
@description('Concurrent ingest requests per instance. Flex defaults Python apps to 1; ingest is I/O-bound (one Service Bus send), see docs/capacity.md.')
param httpPerInstanceConcurrency int = 16

@minValue(1)
@maxValue(64)
@description('Worker threads running sync Python functions; equal to host.json serviceBus.maxConcurrentCalls so 16 concurrent messages really run concurrently.')
param pythonThreadCount int = 16

// App settings. The names are the contract in DESIGN.md "Settings"; the
// drift test (tests/infra/test_settings_drift.py) fails when the code reads
// a setting this list does not provide. Flex Consumption rejects
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION: the runtime is
// declared in functionAppConfig below.
var appSettings = [
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: blobEndpoint
  }
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: queueEndpoint
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: tableEndpoint
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'ServiceBusConnection__fullyQualifiedNamespace'
    value: serviceBusFullyQualifiedNamespace
  }
  {
    name: 'ServiceBusConnection__credential'
    value: 'managedidentity'
  }
  {
    name: 'ServiceBusConnection__clientId'
    value: identityClientId
  }
  {
    name: 'TablesConnection__tableServiceUri'
    value: tableEndpoint
  }
  {
    name: 'TablesConnection__credential'
    value: 'managedidentity'
  }
  {
    name: 'TablesConnection__clientId'
    value: identityClientId
  }
  // DefaultAzureCredential in the app's own SDK clients picks the identity by this id.
  {
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'REGISTRATIONS_QUEUE'
    value: registrationsQueueName
  }
  {
    name: 'REGISTRATIONS_TABLE'
    value: registrationsTableName
  }
  {
    name: 'FAILURES_TABLE'
    value: failuresTableName
  }
  {
    name: 'AUDIT_TABLE'
    value: auditTableName
  }
  {
    name: 'WEBHOOK_SECRET'
    value: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
  }
  // Default is min(32, CPUs + 4): 5 threads on a 1-vCPU instance would cap the
  // processor at 5 concurrent messages whatever maxConcurrentCalls says.
  {
    name: 'PYTHON_THREADPOOL_THREAD_COUNT'
    value: string(pythonThreadCount)
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: applicationInsightsConnectionString
  }
  // Entra-only ingestion: the component has DisableLocalAuth true.
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identityClientId};Authorization=AAD'
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions and fails the deployment elsewhere; the plan is regional and scale-to-zero, and Service Bus holds every accepted signup durably while instances are replaced.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: the caller (Auth0 Actions' fetch) cannot present client certificates; requests are authenticated by function key plus an HMAC signature with a 5-minute replay window.
  // checkov:skip=CKV_AZURE_212: numberOfWorkers is a dedicated-plan setting; Flex Consumption scales per function (functionAppConfig.scaleAndConcurrency), with optional always-ready instances (httpAlwaysReadyInstanceCount).
  // checkov:skip=CKV_AZURE_213: App Service health check evicts unhealthy instances of dedicated plans; Flex Consumption instances are created and recycled by the platform on demand, and an unauthenticated probe endpoint would widen the attack surface.
  // checkov:skip=CKV_AZURE_222: public network access is the product: Auth0's servers POST signups to this endpoint from the internet.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: appSettings
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
        alwaysReady: (httpAlwaysReadyInstanceCount > 0) ? [
          {
            name: 'http'
            instanceCount: httpAlwaysReadyInstanceCount
          }
        ] : []
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No basic-auth publishing: azd and the Functions tools deploy with Entra tokens.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
