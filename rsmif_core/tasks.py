"""The fusion tasks RSMIF knows (a torch-free module, so listing them costs nothing)."""

TASKS: tuple[str, ...] = ("pansharpening", "hyperspectral", "sar-optical", "ms-hs")
