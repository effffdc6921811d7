"""Backprop Lens engine: NumPy forward/backward pairs that keep every intermediate.

NumPy only; never imports the web side. Run any op by name with
:func:`engine.registry.run_op` (its arrays) or :func:`engine.registry.trace_op` (its arrays and
the step records made from them, one computation); see CONVENTIONS.md for layouts and array names.
"""
