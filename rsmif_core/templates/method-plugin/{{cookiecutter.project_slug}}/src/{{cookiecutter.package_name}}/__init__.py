"""{{ cookiecutter.__class_name }}: {{ cookiecutter.__summary }}.

An RSMIF method plugin: ``rsmif_core.create_model("{{ cookiecutter.method_name }}", spectral_bands=..., guide_bands=..., ratio=...)``.
"""

from {{ cookiecutter.package_name }}.model import {{ cookiecutter.__class_name }}

__version__ = "0.1.0"
__all__ = ["{{ cookiecutter.__class_name }}", "__version__"]
