"""Tables of tickets (filled in by its capability)."""
