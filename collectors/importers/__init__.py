"""Importers of public measured datasets into history rows: one module per source.

Each importer exposes `import_dir(dataset_dir, catalog) -> ImportResult`: the rows it could
convert (every conversion named in the row's provenance) and a `Problem` for every line it could
not (quarantined, never silently dropped).
"""
