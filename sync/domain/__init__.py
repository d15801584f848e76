"""Plain dataclasses and enums shared by every part of Caixa's core.

Import from the modules (``sync.domain.models``, ``.events``, ``.ids``): this package imports
nothing, so loading one of them does not load the others.
"""
