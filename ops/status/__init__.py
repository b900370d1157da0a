"""`ops status`: the queue's backlog, from the Service Bus administration API.

sample   the counts, the oldest dead letter's age, rates between samples (plain)
admin    the counts through ServiceBusAdministrationClient (the SDK adapter)
"""
