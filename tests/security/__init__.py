"""Findings of the public-festival probe (issue 16), each reproduced and shown closed."""
