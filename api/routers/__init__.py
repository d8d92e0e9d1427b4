"""Routers of the kennai API, each built by a small factory from the server state."""
