"""The audit log of ops: the record format (`record`) and its Table Storage I/O (`table`)."""
