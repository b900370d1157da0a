// Service Bus namespace and the "registrations" queue. Standard tier by
// default (Premium for more throughput): Basic has no duplicate detection,
// and the design relies on it (a creation's message id is a hash of tenant,
// user id and created_at, so every copy of one signup, from any path, is
// dropped by the broker after the first). Local (SAS) auth is off: only Entra
// identities with a data role can send or receive.

@description('Globally unique namespace name (6-50 letters, digits, hyphens).')
@minLength(6)
@maxLength(50)
param name string

@description('Region of the namespace.')
param location string

@description('Tags for the namespace.')
param tags object

@description('Queue the ingest function sends to and the processor is triggered by (setting REGISTRATIONS_QUEUE).')
param queueName string

@allowed([
  'Standard'
  'Premium'
])
@description('Standard (shared, 1,000 throttling credits/s per namespace) or Premium (dedicated messaging units); see docs/capacity.md for when to switch.')
param namespaceTier string = 'Standard'

@minValue(1)
@maxValue(16)
@description('Premium messaging units (1, 2, 4, 8 or 16); ignored on Standard.')
param premiumMessagingUnits int = 1

@minValue(1024)
@maxValue(81920)
@description('Queue size cap in MB. Standard allows 1024-5120 (5 GB: 15 minutes of backlog at the 10M signups/hour peak with ~2 KB messages); Premium up to 81920.')
param maxSizeInMegabytes int = 5120

var namespaceSku = namespaceTier == 'Premium' ? {
  name: 'Premium'
  tier: 'Premium'
  capacity: premiumMessagingUnits
} : {
  name: 'Standard'
  tier: 'Standard'
}

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: namespaceSku
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

// The design's queue defaults (docs/architecture.md "Queue properties"): the emulator's
// localdev/servicebus/config.json carries the same values, and
// tests/infra/test_settings_drift.py keeps the two in step.
resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: namespace
  name: queueName
  properties: {
    maxDeliveryCount: 10
    lockDuration: 'PT1M'
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT1H'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    requiresSession: false
    enableBatchedOperations: true
    maxSizeInMegabytes: maxSizeInMegabytes
  }
}

output name string = namespace.name
output id string = namespace.id
// "https://<name>.servicebus.windows.net:443/" -> "<name>.servicebus.windows.net",
// so sovereign clouds get their own suffix.
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
output queueName string = queue.name
