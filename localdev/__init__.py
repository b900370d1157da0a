"""Everything needed to run the pipeline without Azure. Never deployed."""
