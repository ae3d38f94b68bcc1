"""Transports at the fleet's edge. They carry bytes and call into the core; no logic of their own."""
