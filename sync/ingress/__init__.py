"""The webhook receiver and how it is served: the one way providers' calls reach a store.

Used by the desktop (solo), ``caixa receive`` and the team server alike.
"""
