"""Atheris fuzz targets (reliability targets F22, F23), one module each, run by ``python -m fuzz.run``.

Each target module has ``test_one_input(data: bytes) -> None`` for ``atheris.Setup`` and raises only when the code
under test breaks its documented contract; ``fuzz/seeds/<target>/`` holds its seed inputs, the reproducers of the
bugs it found among them. Nightly, an hour per target: ``python -m fuzz.run all --seconds 3600 --jobs 2``.
"""
