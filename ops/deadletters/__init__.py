"""The dead-letter feature of `python -m ops`; each layer imports only the ones below it.

actions      replay, purge (audited), the replay policy, the report
settle       one peek-lock pass that settles exactly the selected messages
read         list, show, export by peeking; the recorded errors beside them
servicebus   the DeadLetterQueue on the azure-servicebus SDK (decoding, error mapping)
queue        the interfaces: DeadLetterQueue, LockedLetter, FailureLookup
model        DeadLetter, OutgoingMessage, Selection, the replay copy: plain data
"""
