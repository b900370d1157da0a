"""The processor role's per-process `RegistrationProcessor`, built lazily; settable for tests."""

from __future__ import annotations

import threading

from processor.service import RegistrationProcessor
from shared import clients

_lock = threading.Lock()
_processor: RegistrationProcessor | None = None


def get_processor() -> RegistrationProcessor:
    """The process's processor over the registrations table and the failure log."""
    global _processor
    with _lock:
        if _processor is None:
            _processor = RegistrationProcessor(
                clients.get_registration_writer(), clients.get_failure_log()
            )
        return _processor


def set_processor(processor: RegistrationProcessor | None) -> None:
    global _processor
    with _lock:
        _processor = processor
