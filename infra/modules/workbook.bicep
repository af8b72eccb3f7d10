// The fleet in Azure Monitor: a shared workbook over the function app's own metrics (meter `dps-lifecycle`,
// shared/azure/metrics.ts), the same views as the operator console's, across every instance of the app.

@description('Application Insights resource the metrics are sent to.')
param appInsightsId string

@description('Azure region.')
param location string

@description('Resource tags.')
param tags object = {}

var metricQuery = 'customMetrics | where timestamp > ago(24h) | where name == '

var items = [
  {
    type: 1
    name: 'title'
    content: { json: '## dps-lifecycle fleet\nAllocations, deny-list hits, webhook latency, imports, throttling and incidents, from every instance of the function app.' }
  }
  {
    type: 3
    name: 'allocations-by-hub'
    content: {
      version: 'KqlItem/1.0'
      title: 'Allocations by hub, per hour'
      query: '${metricQuery}"dpsl.allocations" | where tostring(customDimensions.outcome) == "allocate" | summarize allocations = sum(valueSum) by hub = tostring(customDimensions.hub), bin(timestamp, 1h) | render timechart'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    name: 'allocations-by-rule'
    content: {
      version: 'KqlItem/1.0'
      title: 'Allocations by rule, and deny-list hits, per hour'
      query: '${metricQuery}"dpsl.allocations" | extend series = iff(tostring(customDimensions.outcome) == "allocate", strcat("rule ", tostring(customDimensions.rule)), tostring(customDimensions.outcome)) | summarize decisions = sum(valueSum) by series, bin(timestamp, 1h) | render timechart'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    name: 'webhook-latency'
    content: {
      version: 'KqlItem/1.0'
      title: 'Webhook decision time (ms): mean and worst, per 5 minutes'
      query: '${metricQuery}"dpsl.webhook.latency" | summarize mean = sum(valueSum) / sum(valueCount), worst = max(valueMax) by bin(timestamp, 5m) | render timechart'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    name: 'import-rows'
    content: {
      version: 'KqlItem/1.0'
      title: 'Import rows settled per minute, by maker and outcome'
      query: '${metricQuery}"dpsl.import.rows" | summarize rows = sum(valueSum) by series = strcat(tostring(customDimensions.manufacturer), " ", tostring(customDimensions.status)), bin(timestamp, 1m) | render timechart'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    name: 'throttling'
    content: {
      version: 'KqlItem/1.0'
      title: '429s met, by service (DPS, IoT Hub, Cosmos DB)'
      query: '${metricQuery}"dpsl.throttled" | summarize throttled = sum(valueSum) by service = tostring(customDimensions.service), bin(timestamp, 5m) | render timechart'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    name: 'incidents'
    content: {
      version: 'KqlItem/1.0'
      title: 'Incident steps: items done of all (latest)'
      query: 'customMetrics | where timestamp > ago(7d) | where name in ("dpsl.incident.done", "dpsl.incident.total") | summarize arg_max(timestamp, value) by name, incident = tostring(customDimensions.incident), step = tostring(customDimensions.step) | evaluate pivot(name, any(value)) | project incident, step, done = column_ifexists("dpsl.incident.done", real(null)), total = column_ifexists("dpsl.incident.total", real(null))'
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'table'
    }
  }
]

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'dps-lifecycle-fleet')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'dps-lifecycle fleet'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string({ version: 'Notebook/1.0', items: items, isLocked: false })
  }
}

@description('Workbook resource ID.')
output id string = workbook.id
