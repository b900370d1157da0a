"""The processor role: Service Bus trigger (`processor.function`) over `processor.service`."""
