"""``python -m kennai.demo [OUT_DIR]``: write the demo town's files (default: data/boundaries/demo)."""

from kennai.demo.generate import main

main()
