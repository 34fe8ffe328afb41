"""Source shapes: how each known dataset layout is recognised and converted into examples."""
