"""The schedule: tracks, rooms, speakers, sessions, publishing, exports and imports."""
