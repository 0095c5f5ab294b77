"""The Work 365 and StreamOne domain: entities, enums and rules. Pure Python, no I/O.

Import from the modules (``w365tui.domain.models``, ``.enums`` …): the package itself imports
nothing, so that a light module here (``ids``, ``matching``) is not made to load the pydantic
models with it.
"""
