"""skorch callbacks that drive the torch-only sparsity algorithms."""

from ._pals import PALSCallback

__all__ = ["PALSCallback"]
