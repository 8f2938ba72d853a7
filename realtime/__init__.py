"""Live sessions: the wire protocol, the hub, brokers, Q&A and polls."""
