"""Tables of realtime (filled in by its capability)."""
