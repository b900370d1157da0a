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

@description('Table of the operators\' audit log (AUDIT_TABLE); the app holds no role on it.')
param auditTableName string

@description('Table of erasure tombstones (TOMBSTONES_TABLE).')
param tombstonesTableName string

@description('Table of the reconciler\'s checkpoint (RECONCILE_STATE_TABLE).')
param reconcileStateTableName string

@description('Table of the erasures the app performs itself (APP_AUDIT_TABLE).')
param appAuditTableName string

@description('Versionless Key Vault URI of the webhook secret.')
param webhookSecretUri string

@description('Versionless Key Vault URI of the Auth0 M2M client secret; empty when none was given.')
param auth0ClientSecretUri string = ''

@description('Versionless Key Vault URI of the Event Streams token(s); empty when none was given.')
param auth0EventsTokenUri string = ''

@description('Auth0 tenant domain the reconciler calls, e.g. example.eu.auth0.com (AUTH0_DOMAIN).')
param auth0Domain string = ''

@description('Client id of the Auth0 M2M application with read:users only (AUTH0_CLIENT_ID).')
param auth0ClientId string = ''

@description('Auth0 tenant id, equal to the Actions\' event.tenant.id (AUTH0_TENANT_ID).')
param auth0TenantId string = ''

@description('Personal fields the reconciler and Event Streams copy, same values as the Actions\' SEND_FIELDS secret (SEND_FIELDS).')
param sendFields string = 'none'

@description('NCRONTAB schedule of the reconciler\'s timer (RECONCILE_SCHEDULE).')
param reconcileSchedule string = '0 */10 * * * *'

@description('Management API requests per second the reconciler stays under (RECONCILE_MAX_RPS); a decimal string.')
param reconcileMaxRps string = '1.0'

@minValue(0)
@description('Seconds the reconciler stays behind now, because user search is eventually consistent (RECONCILE_SETTLE_LAG_SECONDS).')
param reconcileSettleLagSeconds int = 120

// FUNCTIONS_REQUEST_BODY_SIZE_LIMIT counts bytes of request BODY: the host
// sets Kestrel MaxRequestBodySize per request; headers have their own limits
// and never count. Unset, the host buffers up to 100 MiB before any function
// can answer. Past the limit the host answers 500 (not 413: it fails binding
// the request; azure-functions-host issue 10519), so the limit must sit
// above every route's own. 512 KiB is strictly above every route's own limit, so each
// route still answers a body just past its limit itself:
//   - ingest (64 KiB): its problem+json 413, not the host's bare 500;
//   - Event Streams (256 KiB, a Standard message): a 2xx that keeps the
//     delivery for operators, instead of a host 500 that Auth0 counts
//     toward disabling the stream (an Auth0 user is at most a 10 KB profile
//     plus a temporary 10x allowance, far below either limit);
// while a request of any size costs an instance at most 512 KiB per
// concurrent request (8 MiB at 16) instead of 100 MiB.
@minValue(65536)
@maxValue(1048576)
@description('Largest request body in bytes the Functions host accepts (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT); see the comment on the setting.')
param requestBodySizeLimitBytes int = 524288

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

// App settings. The names are the contract in docs/architecture.md "Settings"; the
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
    name: 'TOMBSTONES_TABLE'
    value: tombstonesTableName
  }
  {
    name: 'RECONCILE_STATE_TABLE'
    value: reconcileStateTableName
  }
  {
    name: 'APP_AUDIT_TABLE'
    value: appAuditTableName
  }
  {
    name: 'WEBHOOK_SECRET'
    value: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
  }
  // The tenant the reconciler and Event Streams speak for (docs/reconciler.md).
  {
    name: 'AUTH0_DOMAIN'
    value: auth0Domain
  }
  {
    name: 'AUTH0_CLIENT_ID'
    value: auth0ClientId
  }
  // Empty, not a reference to a missing secret, when none was given: the app
  // then reports the reconciler as not configured instead of reading the
  // unresolved `@Microsoft.KeyVault(...)` literal.
  {
    name: 'AUTH0_CLIENT_SECRET'
    value: empty(auth0ClientSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${auth0ClientSecretUri})'
  }
  {
    name: 'AUTH0_TENANT_ID'
    value: auth0TenantId
  }
  {
    name: 'AUTH0_EVENTS_TOKEN'
    value: empty(auth0EventsTokenUri) ? '' : '@Microsoft.KeyVault(SecretUri=${auth0EventsTokenUri})'
  }
  {
    name: 'SEND_FIELDS'
    value: sendFields
  }
  {
    name: 'RECONCILE_SCHEDULE'
    value: reconcileSchedule
  }
  {
    name: 'RECONCILE_MAX_RPS'
    value: reconcileMaxRps
  }
  {
    name: 'RECONCILE_SETTLE_LAG_SECONDS'
    value: string(reconcileSettleLagSeconds)
  }
  // Request body bytes the host accepts: why 512 KiB, see the parameter.
  {
    name: 'FUNCTIONS_REQUEST_BODY_SIZE_LIMIT'
    value: string(requestBodySizeLimitBytes)
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
