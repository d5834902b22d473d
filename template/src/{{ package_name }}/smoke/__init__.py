"""`make smoke`: the whole local stack end to end."""
