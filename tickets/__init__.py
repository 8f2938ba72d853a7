"""Tickets: registrations, capacity, seats, signed QR tickets, check-in, agendas."""
