"""The data plane: canonicalize -> match route -> authenticate bearer -> authorize scope -> mutate -> forward."""
