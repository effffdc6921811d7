"""Backprop Lens engine: NumPy forward/backward pairs that keep every intermediate.

NumPy only; never imports the web side. Run any op by name with
:func:`engine.registry.run_op`; see CONVENTIONS.md for layouts and array names.
"""
