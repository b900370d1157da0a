// What pages an operator: one action group (email) and four alerts.
//   - dead letters: the queue's DeadletteredMessages metric above 0, so a
//     message that could not be stored is seen the moment it lands in the
//     dead-letter queue, not when someone next runs `ops dlq list`;
//   - ingest failures: any 5xx answered by the app (Service Bus unreachable,
//     a configuration error, a bug): each one is a signup the Action may
//     lose once its retries run out;
//   - a spike of 401s: a secret rotated on one side only, or someone
//     probing the endpoint with bad signatures;
//   - Service Bus throttling: the namespace is at its tier's limit.
// The two request alerts are log-search alerts on Application Insights'
// `requests`, which records each invocation's HTTP status; the platform's
// `requests/failed` metric would count every 4xx as a failure too.

@description('Region of the scheduled-query alerts (metric alerts and action groups are global).')
param location string

@description('Tags for every alert resource.')
param tags object

@description('Name prefix for the action group and the alerts.')
param namePrefix string

@description('Address that receives every alert; empty creates the action group with no receiver (alerts still fire and show in the portal).')
param alertEmail string = ''

@description('Resource id of the Service Bus namespace.')
param serviceBusNamespaceId string

@description('Queue whose dead letters are watched (the metric\'s EntityName dimension).')
param queueName string

@description('Resource id of the Application Insights component.')
param applicationInsightsId string

@minValue(1)
@description('401 answers within 5 minutes that count as a spike.')
param unauthorizedThreshold int = 20

var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'operators-email'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'signups'
    enabled: true
    emailReceivers: emailReceivers
  }
}

resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'A message reached the dead-letter queue of ${queueName}: run `python -m ops dlq list` to see its cause.'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    // Resolves on its own once the dead-letter queue is empty again.
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                queueName
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Average'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// Standard tier throttling is the first limit the pipeline reaches as load
// grows (docs/capacity.md): every throttled send is retried, and sustained
// throttling turns into 503s from ingest.
resource throttlingAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-servicebus-throttled'
  location: 'global'
  tags: tags
  properties: {
    description: 'Service Bus throttled requests: the namespace is at its tier\'s limit; see docs/capacity.md (Premium, messaging units).'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'ThrottledRequests'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ThrottledRequests'
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

resource serverErrorAlert 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-${namePrefix}-ingest-5xx'
  location: location
  tags: tags
  properties: {
    displayName: 'Ingest answered 5xx'
    description: 'The app answered at least one request with a 5xx in 5 minutes; the Action retries for 15 s, then the signup waits for the reconciler.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests | where toint(resultCode) >= 500'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource unauthorizedAlert 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-${namePrefix}-ingest-401-spike'
  location: location
  tags: tags
  properties: {
    displayName: 'Spike of 401 answers'
    description: 'More than ${unauthorizedThreshold} requests in 5 minutes were refused with 401: a webhook secret or Event Streams token rotated on one side only, or someone probing the endpoint.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests | where resultCode == "401"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: unauthorizedThreshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
