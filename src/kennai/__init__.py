"""kennai (圏内): walkable access, layer-2 split checks and maps for community-care planning."""

__version__ = "0.1.0"
