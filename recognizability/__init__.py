"""recognizability: Recognizability Embedding Enhancement for very-low-resolution face recognition.

Implements Chai et al., "Recognizability Embedding Enhancement for Very Low-Resolution Face Recognition
and Quality Estimation", CVPR 2023.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
