"""Tables of schedule (filled in by its capability)."""
