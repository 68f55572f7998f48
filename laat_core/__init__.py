"""LAAT Lab: language-driven, anchor-based adversarial training for zero-shot robustness."""

__version__ = "0.1.0"
