"""Generate the embedded demo region: みなと町, a small INVENTED Japanese town.

Nothing here describes a real place. The streets, river, hill, school districts, 自治会,
population and gathering places of みなと町 are all made up; the town is merely put near
138.20°E 35.00°N so that the usual Japanese plane CRS (EPSG:6676) applies. Geometry is built
in EPSG:6676 metres around that point and written in EPSG:4326. The generator is deterministic
(one fixed seed, no time stamps), so ``python -m kennai.demo [OUT_DIR]`` always writes
byte-identical files; ``pipelines/demo.yaml`` names them.

One module per part of the town: ``frame`` (local metres and longitude/latitude), ``terrain``
(river, coast, hill, ground height), ``streets`` and ``noding`` (the walking network),
``buildings``, ``osm`` (``town.osm``), ``layers`` (districts, 自治会, small areas and their
population), ``places`` (gathering places and candidate sites), ``write`` (the files) and
``generate`` (all of it, in one fixed order of random draws).
"""

from kennai.demo.generate import DEFAULT_OUT, SEED, generate_demo, main

__all__ = ["DEFAULT_OUT", "SEED", "generate_demo", "main"]
