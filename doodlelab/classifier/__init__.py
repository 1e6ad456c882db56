"""The doodle classifier: a compact ResNet over the 345 Quick, Draw! categories (PyTorch)."""
