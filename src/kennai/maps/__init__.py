"""Maps made from a region's build: printable treasure maps (宝物マップ) and their web twin."""
