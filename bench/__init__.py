"""Backprop Lens benchmark: ``python -m bench`` (``--quick`` for a CI smoke run, ``--json PATH``).

Every number is a median of repeated, interleaved runs measured in the same process as its
reference (candidate and references alternate, so both see the same machine noise), printed
as a ratio against that reference:

- ``bench.ops``: conv2d forward+backward against its three matrix products (the floor) and
  PyTorch; maxpool, batchnorm and softmax-CE against straight-line NumPy and PyTorch.
- ``bench.lecture``: the lecture-size conv2d through the registry with all its step records,
  and provenance for every cell.
- ``bench.tiny_cnn``: steps per second of the lean training step of a tiny CNN with Adam.

``python -m bench.web`` and ``python -m bench.streams`` measure the web side against a real uvicorn
server and, unless ``--no-browser``, in real Chromium (the conv lab's edits and keystrokes; the
network and optimizer labs' streams and edits).

PyTorch is optional (never a dependency): when it is not importable the torch columns say so.
This package imports no NumPy at import time: ``bench.env`` must set the malloc and thread
environment before NumPy (and its BLAS) is loaded.
"""
